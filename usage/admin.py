"""Staff read everyone's usage here: the rows live in keys (metering writes them), the reading is usage's."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from keys.crypto import TAG
from keys.models import ApiKey, DailyUsage
from keys.templatetags.keys_extras import money_with_currency
from plumbing.paginators import LargeTablePaginator

MAX_KEYS_SEARCHED = 1000  # a search matching more keys than this shows the rows of the first thousand

# UsageAlert is left out on purpose: a registered usage model would give the admin an app index at
# /admin/usage/, the URL of the staff usage overview.


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """Read-only usage across all keys: requests answered, tokens and cost, per key, model and UTC day."""

    list_display = ["day", "key", "owner", "plan", "model", "requests", "prompt_tokens", "completion_tokens", "cost"]
    list_filter = ["day", "key__plan"]
    search_fields = ["key__owner__email", "key__prefix"]  # searched by get_search_results, through the keys
    list_select_related = ["key__owner", "key__plan"]
    # No date_hierarchy: its month links read the distinct days of every row (seconds at 3M rows); the
    # day filter offers the same ranges.
    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[DailyUsage], search_term: str):
        # The matching keys are found first (a user's few), then their rows through the (key, day, model) index.
        term = search_term.strip()
        if not term:
            return queryset, False
        owners = get_user_model().objects.filter(email__icontains=term).values("pk")
        keys = ApiKey.objects.filter(Q(owner__in=owners) | Q(prefix__icontains=term.removeprefix(TAG)))
        return queryset.filter(key__in=list(keys.values_list("pk", flat=True)[:MAX_KEYS_SEARCHED])), False

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
