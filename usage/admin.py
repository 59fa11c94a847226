"""Staff read everyone's usage here: the rows live in keys (metering writes them), the reading is usage's."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from keys.models import DailyUsage
from keys.templatetags.keys_extras import money_with_currency

# UsageAlert is left out on purpose: a registered usage model would give the admin an app index at
# /admin/usage/, the URL of the staff usage overview.


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """Read-only usage across all keys: requests answered, tokens and cost, per key, model and UTC day."""

    list_display = ["day", "key", "owner", "plan", "model", "requests", "prompt_tokens", "completion_tokens", "cost"]
    list_filter = ["day", "key__plan"]
    search_fields = ["key__owner__email", "key__prefix"]
    list_select_related = ["key__owner", "key__plan"]
    date_hierarchy = "day"

    @admin.display(description=_("owner"), ordering="key__owner__email")
    def owner(self, usage: DailyUsage) -> str:
        return usage.key.owner.email

    @admin.display(description=_("plan"), ordering="key__plan__name")
    def plan(self, usage: DailyUsage) -> str:
        return usage.key.plan.name

    @admin.display(description=_("cost"), ordering="cost_nanos")
    def cost(self, usage: DailyUsage) -> str:
        return money_with_currency(usage.cost_nanos)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DailyUsage | None = None) -> bool:
        return False
