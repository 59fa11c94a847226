"""One row per model call. The table is made by the migration (partitioned by day on PostgreSQL)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Whatever a call may write; no field can hold a prompt or an answer.
FIELDS = (
    "time",
    "request_id",
    "user_id",
    "team_id",
    "key_prefix",
    "endpoint",
    "model",
    "upstream",
    "status",
    "refusal",
    "stream",
    "latency_ms",
    "ttfb_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "client_ip",
)
TABLE = "requestlog_request"


class RequestLog(models.Model):
    """A call as the door saw it. Unmanaged: Django cannot declare a partitioned table."""

    id = models.BigAutoField(primary_key=True)
    time = models.DateTimeField(_("time"))
    request_id = models.CharField(_("request id"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("user"),
    )
    team_id = models.BigIntegerField(_("team"), null=True)
    key_prefix = models.CharField(_("key"), max_length=32)
    endpoint = models.CharField(_("endpoint"), max_length=64)
    model = models.CharField(_("model"), max_length=200)
    upstream = models.CharField(_("upstream"), max_length=100)
    status = models.PositiveSmallIntegerField(_("status"))
    refusal = models.CharField(_("refusal"), max_length=32)
    stream = models.BooleanField(_("stream"))
    latency_ms = models.IntegerField(_("latency (ms)"))
    ttfb_ms = models.IntegerField(_("time to first byte (ms)"), null=True)
    prompt_tokens = models.IntegerField(_("prompt tokens"))
    completion_tokens = models.IntegerField(_("completion tokens"))
    cost = models.DecimalField(_("cost"), max_digits=18, decimal_places=9)
    client_ip = models.GenericIPAddressField(_("client address"), null=True)

    class Meta:
        managed = False
        db_table = TABLE
        ordering = ["-time", "-id"]
        verbose_name = _("request")
        verbose_name_plural = _("requests")

    def __str__(self) -> str:
        return self.request_id


class PruneLease(models.Model):
    """One row: the UTC day the log was last pruned, so that one process a day does it."""

    day = models.DateField()

    def __str__(self) -> str:
        return self.day.isoformat()
