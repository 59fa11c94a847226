"""/usage/requests/ and its CSV: each user's own rows only."""

import csv
import io
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from keys import selectors as key_selectors
from keys.metering import RefusalCode
from requestlog.app_settings import app_settings
from requestlog.forms import RequestQuery
from requestlog.scope import rows_scope
from requestlog.selectors import CSV_CHUNK, PUBLIC_FIELDS, request_filter, request_page
from teams.exceptions import TeamError
from teams.selectors import team_keys_all, team_name
from usage.exports import csv_cell

REFUSALS = [*(code.value for code in RefusalCode), "model_not_found"]
_FILTERS = ("key", "model", "status", "refusal", "request_id", "since", "until")


def _bad_query(query: RequestQuery) -> HttpResponse:
    return HttpResponse(query.errors_text() + "\n", status=400, content_type="text/plain; charset=utf-8")


def _filters(query: RequestQuery) -> dict:
    return {name: query.cleaned_data[name] for name in _FILTERS if query.cleaned_data.get(name) not in (None, "")}


@login_required
@require_GET
def requests_page(request: HttpRequest) -> HttpResponse:
    query = RequestQuery(request.GET)
    if not query.is_valid():
        return _bad_query(query)
    team = query.cleaned_data["team"]
    try:
        scope = rows_scope(user=request.user, team=team)
    except TeamError as exc:
        return HttpResponse(f"{exc.message}\n", status=exc.status, content_type="text/plain; charset=utf-8")
    rows = request_filter(**scope, **_filters(query))
    page, after = request_page(
        rows=rows,
        cursor=query.cleaned_data["cursor"],
        limit=query.cleaned_data["limit"],
        owner_id=request.user.pk,
        team_id=scope.get("team_id"),
    )
    kept = request.GET.copy()
    kept.pop("cursor", None)
    context = {
        "rows": page,
        "next_query": (kept.urlencode() + "&" if kept else "") + f"cursor={after.encode()}" if after else "",
        "first_query": kept.urlencode(),
        "paged": query.cleaned_data["cursor"] is not None,
        "keys": key_selectors.key_list(owner=request.user) if team is None else team_keys_all(team_id=team),
        "team": team_name(team_id=team) if team is not None else "",
        "team_id": team,
        "refusals": REFUSALS,
        "values": {name: request.GET.get(name, "") for name in _FILTERS},
        "filtered": bool(_filters(query)),
        "days": app_settings.DAYS,
    }
    return render(request, "requestlog/requests.html", context)


@login_required
@require_GET
async def requests_csv(request: HttpRequest) -> HttpResponse:
    """Streamed from an async generator: under ASGI a sync one would be read whole into memory first."""
    query = RequestQuery(request.GET)
    if not query.is_valid():
        return _bad_query(query)
    user = await request.auser()
    data = query.cleaned_data
    try:
        scope = await sync_to_async(rows_scope)(user=user, team=data["team"])
    except TeamError as exc:
        return HttpResponse(f"{exc.message}\n", status=exc.status, content_type="text/plain; charset=utf-8")
    rows = request_filter(**scope, since=data["since"], until=data["until"])
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tollgate-requests.csv"'
    return response


async def _csv_lines(rows) -> AsyncIterator[str]:
    # The rows are read by a plain generator over a server-side cursor, one chunk per hop to the
    # sync thread (QuerySet.aiterator() runs a values_list() query whole in the event loop's thread).
    chunks = _csv_chunks(rows)
    while (text := await sync_to_async(next)(chunks, None)) is not None:
        yield text


def _csv_chunks(rows) -> Iterator[str]:
    line = io.StringIO()
    # Written with "\r\n" so that a lone "\r" in a cell is quoted; each row then ends in "\n" (as usage's CSV).
    writer = csv.writer(line, lineterminator="\r\n")
    lines: list[str] = []

    def add(cells) -> None:
        writer.writerow(cells)
        lines.append(line.getvalue()[:-2] + "\n")
        line.seek(0)
        line.truncate()

    add(PUBLIC_FIELDS)
    for row in rows.values_list(*PUBLIC_FIELDS).iterator(chunk_size=CSV_CHUNK):
        add([csv_cell(_cell(value)) for value in row])
        if len(lines) >= CSV_CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
