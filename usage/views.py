"""The /usage/ page and its CSV export: each user's own rows only."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from keys import selectors
from keys.app_settings import app_settings
from keys.money import money_text
from usage.charts import bar_chart
from usage.exports import csv_response
from usage.forms import PAGE_DAYS, ExportQuery, UsageFilter
from usage.selectors import CSV_HEADER, MAX_DAYS, daily_totals, days_newest_first, usage_rows


@login_required
@require_GET
def usage_page(request: HttpRequest) -> HttpResponse:
    keys = list(selectors.key_list(owner=request.user))
    key_id, model = UsageFilter(request.GET).filters()
    key_id = key_id if any(k.pk == key_id for k in keys) else None
    everything = usage_rows(owner=request.user, days=PAGE_DAYS)
    rows = usage_rows(owner=request.user, days=PAGE_DAYS, key_id=key_id, model=model)
    totals = daily_totals(rows, PAGE_DAYS)
    filters = {"key": key_id or "", "model": model or ""}
    context = {
        "rows": rows,
        "totals": totals,
        "requests_chart": bar_chart(_("Requests a day"), [(t.day, t.requests) for t in totals]),
        "tokens_chart": bar_chart(_("Tokens a day"), [(t.day, t.tokens) for t in totals]),
        "spend_chart": bar_chart(
            _("Spend a day (%(currency)s)") % {"currency": app_settings.TOLLGATE_CURRENCY},
            [(t.day, t.cost_nanos) for t in totals],
            label=money_text,
        ),
        "spent": sum(t.cost_nanos for t in totals),
        "keys": keys,
        "models": sorted({row.model for row in everything if row.model}),
        "key_id": key_id,
        "model": model or "",
        "periods": [row for row in selectors.key_rows(owner=request.user) if row.key.is_active],
        "days": PAGE_DAYS,
        "day_rows": days_newest_first(totals),
        # The export keeps the filters the page shows.
        "export_query": urlencode({"days": PAGE_DAYS, **{name: value for name, value in filters.items() if value}}),
    }
    return render(request, "usage/usage.html", context)


@login_required
@require_GET
def usage_export_csv(request: HttpRequest) -> HttpResponse:
    days = ExportQuery(request.GET).days_or_none()
    if days is None:
        return HttpResponse(
            f"days must be a whole number from 1 to {MAX_DAYS}.\n", status=400, content_type="text/plain"
        )
    key_id, model = UsageFilter(request.GET).filters()
    rows = (row.as_list() for row in usage_rows(owner=request.user, days=days, key_id=key_id, model=model))
    return csv_response(filename=f"tollgate-usage-{days}d.csv", header=CSV_HEADER, rows=rows)
