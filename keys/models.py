"""Plans, API keys and their usage."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from keys.crypto import display_prefix
from keys.money import PRICE_PLACES, from_nanos, to_nanos
from keys.periods import time_zone_valid

EXPIRY_WARNING = datetime.timedelta(days=7)


BUDGET_NEEDS_LOCAL_METERING = _(
    "Budgets and prices need Tollgate's own metering: with KEYS_BACKEND=aws, API Gateway admits requests "
    "and cannot count money. Leave the budget empty, or use the local backend."
)


PERIODS_IN_UTC = _("With KEYS_BACKEND=aws, API Gateway counts periods in UTC: set the time zone to UTC.")


def validate_time_zone(value: str) -> None:
    if not time_zone_valid(value):
        raise ValidationError(
            _("%(zone)s is not a time zone Tollgate knows; use an IANA name such as UTC or Asia/Bangkok."),
            params={"zone": value},
        )


MAX_BUDGET = Decimal(1_000_000)  # counted in nanos, exactly, in every store (Redis compares below 2**53)


def validate_positive_money(value: Decimal) -> None:
    if value is not None and value <= 0:
        raise ValidationError(_("A budget must be more than zero; leave it empty for none."))
    if value is not None and value > MAX_BUDGET:
        raise ValidationError(_("A budget may be at most 1,000,000 a period."))


class Plan(models.Model):
    name = models.CharField(
        verbose_name=_("name"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Use letters, digits, '-' and '_' only."))],
    )
    display_name = models.CharField(
        max_length=80,
        blank=True,
        verbose_name=_("display name"),
        help_text=_(
            "A name for people, shown on plan cards beside the plan's name (e.g. Starter). The API keeps the name."
        ),
    )

    class Period(models.TextChoices):
        DAY = "day", _("day")
        WEEK = "week", _("week")
        MONTH = "month", _("month")

    # The limits below count per period; the names keep "per_day" because the seed's API says so.
    requests_per_day = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        verbose_name=_("requests per period"),
        help_text=_("Requests a period, per user."),
    )
    period = models.CharField(
        max_length=8,
        choices=Period.choices,
        default=Period.DAY,
        db_default=Period.DAY,
        verbose_name=_("period"),
        help_text=_("Limits count per calendar day, week (from Monday) or month, in the plan's time zone."),
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        db_default="UTC",
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
        help_text=_("An IANA name, such as UTC or Asia/Bangkok: where the period starts at midnight."),
    )
    budget = models.DecimalField(
        max_digits=18,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=[validate_positive_money],
        verbose_name=_("budget"),
        help_text=_("Money a user may spend a period on this plan, in TOLLGATE_CURRENCY; empty: no budget."),
    )
    throttle_rate = models.FloatField(
        verbose_name=_("throttle rate"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.001)],
        help_text=_("Requests per second; empty: none."),
    )
    throttle_burst = models.PositiveIntegerField(
        verbose_name=_("throttle burst"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Bucket size; defaults to the rate."),
    )
    tokens_per_day = models.PositiveBigIntegerField(
        verbose_name=_("tokens per period"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Prompt and completion tokens a period, per user; empty: no token limit."),
    )
    max_key_days = models.PositiveIntegerField(
        verbose_name=_("max key days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Longest a key may live, in days; empty: no limit."),
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    is_active = models.BooleanField(
        default=True, help_text=_("Offered for new keys. Existing keys keep working."), verbose_name=_("is active")
    )
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))
    backend_id = models.CharField(
        max_length=128,
        blank=True,
        help_text=_("The key backend's id, e.g. a usage plan."),
        verbose_name=_("backend id"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["order", "requests_per_day", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.throttle_burst and not self.throttle_rate:
            raise ValidationError({"throttle_rate": _("A burst needs a rate.")})
        from keys.backends import get_backend

        if not get_backend().meters_money:
            if self.budget is not None:
                raise ValidationError({"budget": BUDGET_NEEDS_LOCAL_METERING})
            if self.time_zone != "UTC":
                raise ValidationError({"time_zone": PERIODS_IN_UTC})

    @property
    def budget_nanos(self) -> int | None:
        return to_nanos(self.budget)


class ApiKey(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("owner")
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("plan"))
    label = models.CharField(max_length=100, blank=True, verbose_name=_("label"))
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        editable=False,
        verbose_name=_("team"),
        help_text=_("A team key draws on the team's shared quota in its plan; empty: a personal key."),
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False, verbose_name=_("prefix"))
    hashed_secret = models.CharField(max_length=64, editable=False, verbose_name=_("hashed secret"))
    backend_id = models.CharField(max_length=128, blank=True, editable=False, verbose_name=_("backend id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("revoked at"))
    expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("Empty: never expires."), verbose_name=_("expires at")
    )
    # Scopes: empty means no restriction beyond the plan's.
    allowed_ips = models.JSONField(
        default=list,
        blank=True,
        verbose_name=_("allowed addresses"),
        help_text=_("IPv4 and IPv6 addresses and CIDRs the key may be used from; empty: anywhere."),
    )
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        verbose_name=_("allowed models"),
        help_text=_("Models of the plan the key may call; empty: all the plan grants."),
    )
    max_requests = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name=_("max requests"),
        help_text=_("Requests a period for this key alone, under the plan's; empty: the plan's."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="apikey_newest_first")]  # the admin's list
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "plan"],
                condition=Q(revoked_at__isnull=True, team__isnull=True),
                name="one_active_key_per_plan",
            ),
            models.UniqueConstraint(
                fields=["owner", "team", "plan"],
                condition=Q(revoked_at__isnull=True, team__isnull=False),
                name="one_active_team_key_per_plan",
            ),
        ]

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
    def holder_id(self) -> int:
        """Whose quota the key draws on (see quota_holder)."""
        return quota_holder(owner_id=self.owner_id, team_id=self.team_id)

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
    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage", verbose_name=_("key"))
    day = models.DateField(verbose_name=_("day"))
    model = models.CharField(
        max_length=128, blank=True, help_text=_("The model as users named it."), verbose_name=_("model")
    )
    requests = models.PositiveIntegerField(default=0, verbose_name=_("requests"))
    prompt_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveBigIntegerField(default=0, verbose_name=_("completion tokens"))
    # Whole nanos of TOLLGATE_CURRENCY: exact in SQLite too, where a decimal column is a float.
    cost_nanos = models.BigIntegerField(default=0, db_default=0, verbose_name=_("cost (nanos)"))

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day", "model"], name="one_usage_row_per_key_day_model")]
        # The staff overview reads everyone's rows by day, the admin newest first (the unique index leads with
        # the key, for each user's own pages).
        indexes = [models.Index(fields=["day", "id"], name="dailyusage_day_id")]

    def __str__(self) -> str:
        return f"{self.key} {self.day}: {self.requests}"

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)


def quota_holder(*, owner_id: int, team_id: int | None) -> int:
    """Who a key's quota is counted for: its owner's id for a personal key, minus the team's id for a
    team key, so every member's team key in a plan draws on one counter."""
    return -team_id if team_id else owner_id


def holder_keys(holder_id: int) -> Q:
    """A filter on rows with a `key` for the keys that draw on the holder's quota."""
    if holder_id < 0:
        return Q(key__team_id=-holder_id)
    return Q(key__owner_id=holder_id, key__team__isnull=True)


class QuotaCounter(models.Model):
    """Requests, tokens and money admitted per holder, plan and period: the numbers the quotas are enforced on.

    `owner_id` is the quota's holder (quota_holder): a user's id, or minus a team's id.
    `day` is the period's first day in the plan's time zone (for a day plan, the day itself).

    Counted per plan rather than per key, so that revoking or rotating a key never refills the day.
    """

    owner_id = models.BigIntegerField(
        db_column="owner_id", verbose_name=_("holder"), help_text=_("A user's id, or minus a team's id.")
    )
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+", verbose_name=_("plan"))
    day = models.DateField(verbose_name=_("day"))
    used = models.PositiveIntegerField(default=0, verbose_name=_("used"))
    tokens = models.PositiveBigIntegerField(
        verbose_name=_("tokens"),
        default=0,
        db_default=0,
        help_text=_("Prompt and completion tokens of the period, those reserved by calls in flight included."),
    )
    spent_nanos = models.BigIntegerField(default=0, db_default=0, verbose_name=_("spent (nanos)"))

    class Meta:
        verbose_name = _("quota counter")
        verbose_name_plural = _("quota counters")
        constraints = [
            models.UniqueConstraint(fields=["owner_id", "plan", "day"], name="one_counter_per_owner_plan_day")
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.plan_id} {self.day}: {self.used}"


class KeyCounter(models.Model):
    """Requests admitted per key and period, for keys with a cap of their own (ApiKey.max_requests)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+", verbose_name=_("key"))
    day = models.DateField(verbose_name=_("day"))
    used = models.PositiveIntegerField(default=0, verbose_name=_("used"))

    class Meta:
        verbose_name = _("key counter")
        verbose_name_plural = _("key counters")
        constraints = [models.UniqueConstraint(fields=["key", "day"], name="one_counter_per_key_day")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.day}: {self.used}"


class Refusal(models.Model):
    """Requests a key had refused by its limits, per UTC day and reason: the demand the 429s turned away."""

    class Reason(models.TextChoices):
        REQUESTS = "requests", _("daily requests")
        TOKENS = "tokens", _("daily tokens")
        THROTTLE = "throttle", _("throttle")
        BUDGET = "budget", _("budget")
        KEY_REQUESTS = "key_requests", _("the key's own cap")

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="refusals", verbose_name=_("key"))
    day = models.DateField(verbose_name=_("day"))
    reason = models.CharField(max_length=16, choices=Reason.choices, verbose_name=_("reason"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("refusal")
        verbose_name_plural = _("refusals")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day", "reason"], name="one_refusal_row_per_key_day")]
        indexes = [models.Index(fields=["day", "key"], name="refusal_day_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.day} {self.reason}: {self.count}"


class SpoolMark(models.Model):
    """How far a process's spool file (keys/metering/spool.py) is in the statistics: written in the same
    transaction as each flush, so a dead process's file is replayed from exactly there."""

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    offset = models.BigIntegerField(default=0, verbose_name=_("offset"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("spool mark")
        verbose_name_plural = _("spool marks")

    def __str__(self) -> str:
        return f"{self.name}: {self.offset}"
