"""The usage mails sent, so that each goes once; and the summed closed days the staff overview reads."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keys.models import ApiKey, Plan


class UsageAlert(models.Model):
    """A usage mail sent: at most one per key, day, kind and threshold."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("key"))
    day = models.DateField(verbose_name=_("day"))
    # requests, tokens or budget; `day` is the first day of the plan's period
    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    percent = models.PositiveSmallIntegerField(verbose_name=_("percent"))
    sent_at = models.DateTimeField(auto_now_add=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("usage alert")
        verbose_name_plural = _("usage alerts")
        db_table = "keys_usagealert"  # made by keys before usage had an app of its own; the rows stay put
        constraints = [
            models.UniqueConstraint(fields=["key", "day", "kind", "percent"], name="one_alert_per_key_day_threshold")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.day} {self.kind} {self.percent}%"


class UsageDaySummary(models.Model):
    """One closed UTC day of DailyUsage and Refusal summed per plan, model and refusal reason, so that the staff
    overview reads a few hundred rows, not millions. Usage rows have reason ''; refusal rows model '' and `refused`."""

    day = models.DateField(verbose_name=_("day"))
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+", verbose_name=_("plan"))
    model = models.CharField(max_length=128, blank=True, verbose_name=_("model"))
    reason = models.CharField(max_length=16, blank=True, verbose_name=_("reason"))
    requests = models.PositiveBigIntegerField(default=0, verbose_name=_("requests"))
    prompt_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("completion tokens"))
    cost_nanos = models.BigIntegerField(default=0, verbose_name=_("cost (nanos)"))
    refused = models.PositiveBigIntegerField(default=0)

    class Meta:
        # Never shown to anyone (no admin, no page), so no translated names.
        constraints = [
            models.UniqueConstraint(fields=["day", "plan", "model", "reason"], name="one_summary_per_day_plan_model")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.plan_id} {self.model or self.reason}: {self.requests or self.refused}"


class UsageOwnerWindow(models.Model):
    """Each owner's use summed over the closed days of the overview's window that ends on `through`: the top
    users then add the open days' few rows to these instead of summing a month of rows per visit."""

    through = models.DateField()
    days = models.PositiveSmallIntegerField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("owner")
    )
    requests = models.PositiveBigIntegerField(default=0, verbose_name=_("requests"))
    prompt_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("completion tokens"))
    cost_nanos = models.BigIntegerField(default=0, verbose_name=_("cost (nanos)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["through", "days", "owner"], name="one_window_row_per_owner")]

    def __str__(self) -> str:
        return f"{self.owner_id} through {self.through} ({self.days} days): {self.requests}"
