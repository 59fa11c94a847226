"""Webhook endpoints and every delivery made to them."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from webhooks.rules import validate_webhook_url

EVENTS = (
    "key.created",
    "key.revoked",
    "key.expiring",
    "quota.80",
    "quota.100",
    "budget.80",
    "budget.100",
    "upstream.down",
    "upstream.up",
)
USER_EVENTS = EVENTS[:7]  # upstreams are the operator's business


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """Where events are posted. Staff endpoints (no owner) get everyone's events; a user's, their own keys'."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        verbose_name=_("owner"),
        help_text=_("Empty: a staff endpoint, sent every user's events and the upstreams'."),
    )
    url = models.URLField(max_length=500, validators=[validate_webhook_url], verbose_name=_("URL"))
    secret = models.CharField(
        max_length=100,
        default=new_secret,
        editable=False,
        verbose_name=_("signing secret"),
        help_text=_("X-Tollgate-Signature is sha256=<hex HMAC-SHA256 of the body> with this secret."),
    )
    events = models.JSONField(
        default=list, blank=True, verbose_name=_("events"), help_text=_("Empty: every event this endpoint may get.")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        allowed = EVENTS if self.owner_id is None else USER_EVENTS
        return self.is_active and event in allowed and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    """One event for one endpoint: its body as signed, and how the tries went."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event = models.CharField(max_length=32, verbose_name=_("event"))
    # What the event is about, so one event is posted once however many processes see it.
    subject = models.CharField(max_length=200, verbose_name=_("subject"))
    body = models.TextField(verbose_name=_("body"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("time (ms)"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event", "subject"], name="one_delivery_per_event_subject")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
