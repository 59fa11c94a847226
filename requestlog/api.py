"""GET /api/v1/requests/: the user's own log rows, newest first, a page at a time."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from requestlog.forms import RequestQuery
from requestlog.scope import rows_scope
from requestlog.selectors import request_filter, request_page
from teams.exceptions import TeamError

_FILTERS = ("key", "model", "status", "request_id", "since", "until", "refusal")


class RequestList(APIView):
    """`{"results": [...], "next": <url or null>}`; `next` carries the same filters and the cursor."""

    def get(self, request: Request) -> Response:
        query = RequestQuery(request.query_params)
        if not query.is_valid():
            return Response({"message": query.errors_text(), "errors": query.errors.get_json_data()}, status=400)
        data = query.cleaned_data
        filters = {name: data[name] for name in _FILTERS if data.get(name) not in (None, "")}
        try:
            scope = rows_scope(user=request.user, team=data["team"])
        except TeamError as exc:
            return Response({"message": str(exc.message)}, status=exc.status)
        rows = request_filter(**scope, **filters)
        page, after = request_page(
            rows=rows,
            cursor=data["cursor"],
            limit=data["limit"],
            owner_id=request.user.pk,
            team_id=scope.get("team_id"),
        )
        next_url = None
        if after is not None:
            params = request.query_params.copy()
            params["cursor"] = after.encode()
            next_url = request.build_absolute_uri(request.path + "?" + params.urlencode())
        return Response({"results": [_row_out(row) for row in page], "next": next_url})


def _row_out(row: dict) -> dict:
    row = dict(row)
    row.pop("id")
    row["time"] = row["time"].isoformat()
    row["cost"] = str(row["cost"])
    return row
