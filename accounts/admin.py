"""Staff read the audit trail here; nobody can change it."""

import ipaddress

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import AUDIT_ACTION_NAMES, AuditEvent
from plumbing.paginators import LargeTablePaginator


def ip_or_none(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class ActionFilter(admin.SimpleListFilter):
    """The actions Tollgate records, from the code: Django's own filter read the distinct actions of every event."""

    title = _("action")
    parameter_name = "action__exact"  # the URL Django's own filter used

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [(code, name) for code, name in sorted(AUDIT_ACTION_NAMES.items())]  # named in the reader's language

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: who did what to which key or plan, when and from where. Nothing here can be changed."""

    list_display = ["created_at", "actor_email", "action_name", "target", "subject", "ip", "detail"]
    list_filter = [ActionFilter, "created_at"]
    search_fields = ["actor_email", "target", "action", "subject__email", "ip"]  # see get_search_results
    # No date_hierarchy: its links read the distinct months of every event (a million at scale); the
    # created_at filter offers the same ranges.
    list_select_related = ["subject"]
    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[AuditEvent], search_term: str):
        # Whole values, each through an index: a substring search read every event (5 s at a million).
        term = search_term.strip()
        if not term:
            return queryset, False
        subjects = list(get_user_model().objects.filter(email__iexact=term).values_list("pk", flat=True)[:100])
        found = Q(actor_email__iexact=term) | Q(target=term) | Q(action=term) | Q(subject__in=subjects)
        if ip_or_none(term):
            found |= Q(ip=term)
        return queryset.filter(found), False

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, event: AuditEvent) -> str:
        return event.action_name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
