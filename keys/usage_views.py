"""The /usage/ page, its CSV export and the usage API: each user's own rows only."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from keys import selectors
from keys.charts import bar_chart
from keys.usage import CSV_HEADER, MAX_DAYS, daily_totals, usage_rows

PAGE_DAYS = 30


def _days(raw: str | None, default: int) -> int | None:
    if raw in (None, ""):
        return default
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else None


@login_required
@require_GET
def usage_page(request: HttpRequest) -> HttpResponse:
    keys = list(selectors.key_list(owner=request.user))
    key_id = request.GET.get("key", "")
    key_id = int(key_id) if key_id.isdigit() and any(k.pk == int(key_id) for k in keys) else None
    model = request.GET.get("model") or None
    everything = usage_rows(owner=request.user, days=PAGE_DAYS)
    rows = usage_rows(owner=request.user, days=PAGE_DAYS, key_id=key_id, model=model)
    totals = daily_totals(rows, PAGE_DAYS)
    context = {
        "rows": rows,
        "totals": totals,
        "requests_chart": bar_chart(_("Requests a day"), [(t.day, t.requests) for t in totals]),
        "tokens_chart": bar_chart(_("Tokens a day"), [(t.day, t.tokens) for t in totals]),
        "keys": keys,
        "models": sorted({row.model for row in everything if row.model}),
        "key_id": key_id,
        "model": model or "",
        "today": [row for row in selectors.key_rows(owner=request.user) if row.key.is_active],
        "days": PAGE_DAYS,
    }
    return render(request, "keys/usage.html", context)


@login_required
@require_GET
def usage_export_csv(request: HttpRequest) -> HttpResponse:
    days = _days(request.GET.get("days"), PAGE_DAYS)
    if days is None:
        return HttpResponse(
            f"days must be a whole number from 1 to {MAX_DAYS}.\n", status=400, content_type="text/plain"
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tollgate-usage-{days}d.csv"'
    writer = csv.writer(response, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in usage_rows(owner=request.user, days=days):
        writer.writerow(row.as_list())
    return response


class UsageQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, required=False, default=PAGE_DAYS)


class UsageRowOut(serializers.Serializer):
    day = serializers.DateField()
    key_prefix = serializers.CharField()
    model = serializers.CharField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    refused = serializers.IntegerField()


class UsageList(APIView):
    """GET /api/v1/usage/?days=N: the same rows as the CSV export, as JSON."""

    def get(self, request: Request) -> Response:
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = usage_rows(owner=request.user, days=query.validated_data["days"])
        return Response(UsageRowOut([row.as_dict() for row in rows], many=True).data)
