"""Staff read everyone's log rows here, read-only; no page of it ever counts the whole table."""

import datetime

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from keys.crypto import TAG
from keys.metering import RefusalCode
from requestlog.models import RequestLog

COUNT_CAP = 10_000
STATUSES = [200, 400, 401, 403, 404, 429, 499, 500, 502, 503, 504]


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows (a LIMITed subquery), however large the table."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(str(status), str(status)) for status in STATUSES]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(status=int(value)) if value and value.isdigit() and value.isascii() else queryset


class RefusalFilter(admin.SimpleListFilter):
    title = _("refusal")
    parameter_name = "refusal"

    def lookups(self, request, model_admin):
        return [(code, code) for code in [*(c.value for c in RefusalCode), "model_not_found"]]

    def queryset(self, request, queryset):
        return queryset.filter(refusal=self.value()) if self.value() else queryset


class SinceFilter(admin.SimpleListFilter):
    title = _("time")
    parameter_name = "within"
    SPANS = {"1h": datetime.timedelta(hours=1), "1d": datetime.timedelta(days=1), "7d": datetime.timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("1h", _("Last hour")), ("1d", _("Last 24 hours")), ("7d", _("Last 7 days"))]

    def queryset(self, request, queryset):
        span = self.SPANS.get(self.value() or "")
        return queryset.filter(time__gte=timezone.now() - span) if span else queryset


class ModelFilter(admin.SimpleListFilter):
    """The models called in the last hour: a distinct over the whole table would read all of it."""

    title = _("model")
    parameter_name = "model"

    def lookups(self, request, model_admin):
        recent = RequestLog.objects.filter(time__gte=timezone.now() - datetime.timedelta(hours=1))
        names = recent.order_by().values_list("model", flat=True).distinct()[:50]
        return [(name, name) for name in sorted(names)]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = ["time", "request_id", "user", "key_prefix", "endpoint", "model", "status", "refusal", "latency_ms"]
    list_filter = [SinceFilter, StatusFilter, RefusalFilter, ModelFilter, "stream"]
    list_select_related = ["user"]
    search_fields = ["request_id"]
    search_help_text = _("A request id, a key prefix or a user's email, exactly.")
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50
    ordering = ["-time", "-id"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Exact matches that an index serves: a LIKE over millions of rows would scan them all."""
        term = search_term.strip()
        if not term or "\x00" in term:
            return queryset, False
        if "@" in term:
            return queryset.filter(user__email__iexact=term), False
        if term.startswith(TAG):
            return queryset.filter(key_prefix=term.rstrip("…")), False
        return queryset.filter(request_id=term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
