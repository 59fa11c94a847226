"""Staff manage plans and keys here. No page ever shows a key's secret."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from keys import services
from keys.backends import get_backend
from keys.crypto import TAG
from keys.exceptions import KeyServiceError
from keys.metering import counts_sync
from keys.models import ApiKey, DailyUsage, Plan
from keys.services import plan_period_changed
from keys.signals import plan_saved, plans_synced
from keys.templatetags.keys_extras import moment_text, money_with_currency
from plumbing.paginators import LargeTablePaginator


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "display_name",
        "requests_per_day",
        "period",
        "time_zone",
        "budget_shown",
        "throttle_rate",
        "throttle_burst",
        "max_key_days",
        "is_active",
        "order",
        "active_keys",
    ]
    list_editable = ["requests_per_day", "is_active", "order"]
    search_fields = ["name"]
    readonly_fields = ["granted_models", "backend_id", "updated_at"]

    @admin.display(description=_("models it grants"))
    def granted_models(self, plan: Plan) -> str:
        # The catalogue's models name their plans (CatalogModel.plans, related_name "models"); keys cannot import it.
        names = sorted(plan.models.values_list("name", flat=True)) if plan.pk else []
        if not names:
            return gettext("Every model in the catalogue: this plan grants none in particular.")
        return ", ".join(names)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return (
            super()
            .get_queryset(request)
            .annotate(_active_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        )

    @admin.display(description=_("budget"), ordering="budget")
    def budget_shown(self, plan: Plan) -> str:
        return money_with_currency(plan.budget) or "—"

    @admin.display(description=_("active keys"), ordering="_active_keys")
    def active_keys(self, plan: Plan) -> int:
        return plan._active_keys

    actions = ["sync_to_api_gateway"]

    def has_delete_permission(self, request: HttpRequest, obj: Plan | None = None) -> bool:
        # A plan with keys is protected; deactivate it instead.
        return super().has_delete_permission(request, obj) and not (obj and obj.api_keys.exists())

    def save_model(self, request: HttpRequest, obj: Plan, form, change: bool) -> None:
        retired = change and "is_active" in form.changed_data and not obj.is_active
        moved = change and {"period", "time_zone"} & set(form.changed_data)
        old = (form.initial.get("period", obj.period), form.initial.get("time_zone", obj.time_zone))
        super().save_model(request, obj, form, change)
        if moved:
            plan_period_changed(plan=obj, old_period=old[0], old_time_zone=old[1])
        change_name = "retired" if retired else "edited" if change else "created"
        plan_saved.send_robust(sender=Plan, plan=obj, change=change_name, fields=form.changed_data, actor=request.user)
        notice = get_backend().plan_change_notice()
        if notice:
            self.message_user(request, notice, messages.WARNING)

    @admin.action(description=_("Sync plans to API Gateway (KEYS_BACKEND=aws)"))
    def sync_to_api_gateway(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        try:
            changes = get_backend().plans_sync()
        except KeyServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if changes is None:
            self.message_user(request, _("Nothing to sync: Tollgate enforces quotas itself."), messages.INFO)
            return
        summary = "; ".join(changes) or gettext("usage plans already match")
        plans_synced.send_robust(sender=Plan, summary=summary, actor=request.user)
        self.message_user(
            request, gettext("Synced all active plans: %(summary)s") % {"summary": summary}, messages.SUCCESS
        )


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class DailyUsageInline(admin.TabularInline):
    model = DailyUsage
    fields = ["day", "model", "requests", "prompt_tokens", "completion_tokens", "cost"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-day"]
    verbose_name_plural = _("recent usage (requests answered, tokens, cost)")

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-day")

    @admin.display(description=_("cost"))
    def cost(self, usage: DailyUsage) -> str:
        return money_with_currency(usage.cost_nanos)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["public_prefix", "owner", "plan", "label", "created_at", "last_used_at", "expires_at", "is_active"]
    list_filter = ["plan", StatusFilter]
    search_fields = ["owner__email", "prefix", "label"]  # searched by get_search_results, without a join
    list_select_related = ["owner", "plan"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    readonly_fields = [
        "public_prefix",
        "owner",
        "plan",
        "backend_id",
        "created_at",
        "last_used_at",
        "revoked_at",
        "expires_at",
        "used_today",
        "spent_this_period",
    ]
    fields = [
        "public_prefix",
        "owner",
        "plan",
        "label",
        "backend_id",
        "created_at",
        "last_used_at",
        "revoked_at",
        "expires_at",
        "used_today",
        "spent_this_period",
    ]
    inlines = [DailyUsageInline]
    actions = ["revoke_keys"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[ApiKey], search_term: str):
        # The owners are found first (one pass over the users), so the keys are scanned once, not joined.
        term = search_term.strip()
        if not term:
            return queryset, False
        owners = get_user_model().objects.filter(email__icontains=term).values("pk")
        found = Q(owner__in=owners) | Q(prefix__icontains=term.removeprefix(TAG)) | Q(label__icontains=term)
        return queryset.filter(found), False

    @admin.display(description=_("public prefix"), ordering="prefix")
    def public_prefix(self, key: ApiKey) -> str:
        return key.public_prefix

    @admin.display(description=_("requests this period (as the quota counts them)"))
    def used_today(self, key: ApiKey) -> str:
        if not key.is_active:
            return "—"
        used = get_backend().used_today(api_key=key)
        if used is None:
            return gettext("API Gateway did not answer; try again shortly")
        return gettext("%(used)s of %(limit)s") % {"used": used, "limit": key.plan.requests_per_day}

    @admin.display(description=_("spent this period (the owner's, in this plan)"))
    def spent_this_period(self, key: ApiKey) -> str:
        if key.pk is None:
            return "—"
        counts = counts_sync(owner_id=key.holder_id, plan=key.plan)
        values = {"spent": money_with_currency(counts.nanos), "reset": moment_text(counts.reset_at)}
        if key.plan.budget is None:
            return gettext("%(spent)s; resets %(reset)s") % values
        values["budget"] = money_with_currency(key.plan.budget)
        return gettext("%(spent)s of %(budget)s; resets %(reset)s") % values

    @admin.display(boolean=True, description=_("active"))
    def is_active(self, key: ApiKey) -> bool:
        return key.is_active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by their owners, who alone see the secret

    @admin.action(description=_("Revoke selected keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        done, failed = 0, []
        for key in queryset.filter(revoked_at__isnull=True).select_related("plan", "owner"):
            try:
                services.key_revoke(key=key)
                done += 1
            except KeyServiceError as exc:
                failed.append(f"{key.public_prefix}: {exc.message}")
        if done:
            message = ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", done) % {"count": done}
            self.message_user(request, message, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, gettext("Could not revoke %(key)s") % {"key": failure}, messages.ERROR)
        if not done and not failed:
            self.message_user(request, _("The selected keys were already revoked."), messages.WARNING)
