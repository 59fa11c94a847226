"""Staff read the audit trail here; nobody can change it."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: who did what to which key or plan, when and from where. Nothing here can be changed."""

    list_display = ["created_at", "actor_email", "action_name", "target", "subject", "ip", "detail"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_email", "target", "action", "subject__email", "ip"]
    date_hierarchy = "created_at"
    list_select_related = ["subject"]

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, event: AuditEvent) -> str:
        return event.action_name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
