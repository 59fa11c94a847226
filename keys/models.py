"""Plans, API keys and their daily usage."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from keys.crypto import display_prefix

EXPIRY_WARNING = datetime.timedelta(days=7)


class Plan(models.Model):
    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", "Use letters, digits, '-' and '_' only.")],
    )
    requests_per_day = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    throttle_rate = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.001)], help_text="Requests per second; empty: none."
    )
    throttle_burst = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Bucket size; defaults to the rate."
    )
    tokens_per_day = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Prompt and completion tokens a day, per user; empty: no token limit.",
    )
    max_key_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Longest a key may live, in days; empty: no limit.",
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Offered for new keys. Existing keys keep working.")
    order = models.PositiveIntegerField(default=0)
    backend_id = models.CharField(max_length=128, blank=True, help_text="The key backend's id, e.g. a usage plan.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "requests_per_day", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.throttle_burst and not self.throttle_rate:
            raise ValidationError({"throttle_rate": "A burst needs a rate."})


class ApiKey(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    backend_id = models.CharField(max_length=128, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="Empty: never expires.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "plan"], condition=Q(revoked_at__isnull=True), name="one_active_key_per_plan"
            )
        ]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.public_prefix

    def save(self, *args, **kwargs) -> None:
        self._refuse_reactivation()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self._refuse_reactivation()

    def _refuse_reactivation(self) -> None:
        # Revocation is one-way: a revoked key can never be made active again.
        if self.pk and self.revoked_at is None:
            if ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=False).exists():
                raise ValidationError("A revoked key cannot be reactivated.")

    @property
    def public_prefix(self) -> str:
        return display_prefix(self.prefix)

    @property
    def is_active(self) -> bool:
        """Not revoked. An active key may still have expired: see is_expired."""
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def expires_soon(self) -> bool:
        """Within EXPIRY_WARNING of expiring, and not yet expired: pages warn."""
        return (
            self.expires_at is not None and not self.is_expired and self.expires_at - timezone.now() <= EXPIRY_WARNING
        )

    @property
    def status(self) -> str:
        return "revoked" if not self.is_active else "expired" if self.is_expired else "active"

    @property
    def status_name(self) -> str:
        """The status in the reader's language (the API keeps the code)."""
        return KEY_STATUS_NAMES[self.status]


KEY_STATUS_NAMES = {
    "active": pgettext_lazy("key status", "active"),
    "revoked": pgettext_lazy("key status", "revoked"),
    "expired": pgettext_lazy("key status", "expired"),
}


class DailyUsage(models.Model):
    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    model = models.CharField(max_length=128, blank=True, help_text="The model as users named it.")
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day", "model"], name="one_usage_row_per_key_day_model")]
        verbose_name_plural = "daily usage"

    def __str__(self) -> str:
        return f"{self.key} {self.day}: {self.requests}"


class QuotaCounter(models.Model):
    """Requests admitted per owner, plan and UTC day: the number the daily quota is enforced on.

    Counted per plan rather than per key, so that revoking or rotating a key never refills the day.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    used = models.PositiveIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(
        default=0, db_default=0, help_text="Prompt and completion tokens recorded today."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "plan", "day"], name="one_counter_per_owner_plan_day")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.plan_id} {self.day}: {self.used}"


class Refusal(models.Model):
    """Requests a key had refused by its limits, per UTC day and reason: the demand the 429s turned away."""

    class Reason(models.TextChoices):
        REQUESTS = "requests", "daily requests"
        TOKENS = "tokens", "daily tokens"
        THROTTLE = "throttle", "throttle"

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="refusals")
    day = models.DateField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day", "reason"], name="one_refusal_row_per_key_day")]

    def __str__(self) -> str:
        return f"{self.key} {self.day} {self.reason}: {self.count}"


class UsageAlert(models.Model):
    """A usage mail sent: at most one per key, day, kind and threshold."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="alerts")
    day = models.DateField()
    kind = models.CharField(max_length=16)  # requests or tokens
    percent = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "day", "kind", "percent"], name="one_alert_per_key_day_threshold")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.day} {self.kind} {self.percent}%"


class AccountSettings(models.Model):
    """A user's choices about Tollgate's mail."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tollgate_settings")
    usage_alerts = models.BooleanField(default=True, help_text="Mail me at 80% and 100% of a key's day.")
    language = models.CharField(
        max_length=16, blank=True, default="", help_text="The language Tollgate mails in; blank for the site's."
    )

    def __str__(self) -> str:
        return f"settings of {self.user}"


# The trail shows each action by its code; the code is also its English name, so English pages keep it.
AUDIT_ACTION_NAMES = {
    "account.signed_up": pgettext_lazy("audit action", "account.signed_up"),
    "account.logged_in": pgettext_lazy("audit action", "account.logged_in"),
    "account.login_failed": pgettext_lazy("audit action", "account.login_failed"),
    "key.created": pgettext_lazy("audit action", "key.created"),
    "key.revoked": pgettext_lazy("audit action", "key.revoked"),
    "key.expired": pgettext_lazy("audit action", "key.expired"),
    "key.rotated": pgettext_lazy("audit action", "key.rotated"),
    "key.switched": pgettext_lazy("audit action", "key.switched"),
    "plans.synced": pgettext_lazy("audit action", "plans.synced"),
    "admin.added": pgettext_lazy("audit action", "admin.added"),
    "admin.changed": pgettext_lazy("audit action", "admin.changed"),
    "admin.deleted": pgettext_lazy("audit action", "admin.deleted"),
}


class AuditEvent(models.Model):
    """Who did what to which target, when and from where. Append-only, and never holds a secret."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True, help_text="Kept if the account is deleted.")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The user whose account or key it concerns.",
    )
    action = models.CharField(max_length=40, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit event"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action} {self.target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events cannot be deleted.")

    @property
    def action_name(self) -> str:
        return AUDIT_ACTION_NAMES.get(self.action, self.action)
