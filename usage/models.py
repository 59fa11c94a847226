"""The usage mails sent, so that each goes once."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keys.models import ApiKey


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
