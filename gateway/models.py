"""The model catalogue: upstream servers, the models users name, and which plans grant them."""

import os

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gateway.sealing import seal, unseal
from gateway.upstream_rules import key_env_allowed, validate_key_env, validate_upstream_url
from keys.models import Plan
from keys.money import PRICE_PLACES, Price

NAME = RegexValidator(r"^[A-Za-z0-9._:/-]+$", _("Use letters, digits and . _ : / - only."))


class Upstream(models.Model):
    """An OpenAI-compatible server. Its API key is sealed at rest, or read from an environment variable."""

    name = models.CharField(max_length=64, unique=True, validators=[NAME], verbose_name=_("name"))
    base_url = models.URLField(
        max_length=300,
        validators=[validate_upstream_url],
        help_text=_(
            "Including /v1, e.g. https://api.example.com/v1. "
            "Changing it removes a stored key unless you enter the key again."
        ),
        verbose_name=_("base url"),
    )
    sealed_api_key = models.TextField(blank=True, editable=False, verbose_name=_("sealed api key"))
    api_key_env = models.CharField(
        verbose_name=_("api key env"),
        max_length=128,
        blank=True,
        validators=[validate_key_env],
        help_text=_(
            "Read the API key from this environment variable instead. "
            "Its name must start with the configured prefix, TOLLGATE_UPSTREAM_ by default."
        ),
    )
    timeout = models.FloatField(
        default=120.0,
        validators=[MinValueValidator(1.0), MaxValueValidator(3600.0)],
        help_text=_("Seconds."),
        verbose_name=_("timeout"),
    )
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)], verbose_name=_("weight"))
    max_concurrent = models.PositiveIntegerField(
        verbose_name=_("max concurrent"),
        null=True,
        blank=True,
        help_text=_(
            "Most requests in flight to this upstream from each Tollgate process; more get 503. Empty: no limit."
        ),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last success at"))
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last error at"))
    last_error = models.CharField(max_length=300, blank=True, editable=False, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("upstream")
        verbose_name_plural = _("upstreams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # A sealed key belongs to the host it was given for: moving the upstream without typing the key
        # again would hand it to whoever listens at the new address.
        moved = getattr(self, "_saved_base_url", None) not in (None, self.base_url)
        if moved and not getattr(self, "_key_given", False):
            self.sealed_api_key = ""
        super().save(*args, **kwargs)
        self._saved_base_url, self._key_given = self.base_url, False

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._saved_base_url = instance.__dict__.get("base_url")
        return instance

    @property
    def api_key(self) -> str:
        if self.api_key_env:
            # Rows saved before the prefix rule must not read other variables either.
            return os.environ.get(self.api_key_env, "") if key_env_allowed(self.api_key_env) else ""
        return unseal(self.sealed_api_key)

    def set_api_key(self, plaintext: str) -> None:
        self.sealed_api_key = seal(plaintext)
        self._key_given = True

    @property
    def has_api_key(self) -> bool:
        """Whether a usable key is there: sealed under this secret, or in its (allowed) variable."""
        return bool(self.api_key)

    @property
    def misconfiguration(self) -> str:
        """Why this upstream must not be called, or '' if it may: a key it should send but cannot, or an
        address saved before the rules. Never called without the credentials it was given."""
        if self.api_key_env and not self.api_key:
            return f"its api_key_env {self.api_key_env} is not set in this process (or lacks the allowed prefix)"
        if self.sealed_api_key and not self.api_key:
            return "its key was sealed under another DJANGO_SECRET_KEY: set it again"
        try:
            validate_upstream_url(self.base_url)
        except ValidationError as exc:
            return f"its base_url is refused: {' '.join(str(m) for m in exc.messages)}"
        return ""


class ModelKind(models.TextChoices):
    CHAT = "chat", _("chat")
    COMPLETION = "completion", _("text completion")
    EMBEDDING = "embedding", _("embedding")
    IMAGE = "image", _("image")
    AUDIO = "audio", _("audio")
    MODERATION = "moderation", _("moderation")
    RESPONSES = "responses", _("responses")


# A blank kind is guessed from the name, the way providers name their models.
_KIND_HINTS = (
    ("embed", ModelKind.EMBEDDING),
    ("dall-e", ModelKind.IMAGE),
    ("image", ModelKind.IMAGE),
    ("whisper", ModelKind.AUDIO),
    ("tts", ModelKind.AUDIO),
    ("audio", ModelKind.AUDIO),
    ("transcribe", ModelKind.AUDIO),
    ("moderation", ModelKind.MODERATION),
    ("instruct", ModelKind.COMPLETION),
    ("davinci", ModelKind.COMPLETION),
    ("babbage", ModelKind.COMPLETION),
)


def kind_guess(name: str) -> str:
    lowered = name.lower()
    return next((kind for hint, kind in _KIND_HINTS if hint in lowered), ModelKind.CHAT)


class CatalogModel(models.Model):
    """A model as users name it, served by one or more upstreams under the upstream's own name."""

    name = models.CharField(
        max_length=128, unique=True, validators=[NAME], help_text=_("The name users send."), verbose_name=_("name")
    )
    upstream_model = models.CharField(
        verbose_name=_("upstream model"),
        max_length=128,
        blank=True,
        help_text=_("The name the upstream knows it by; empty: the same name."),
    )
    upstreams = models.ManyToManyField(Upstream, related_name="models", verbose_name=_("upstreams"))
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="models",
        help_text=_("Plans that grant this model. A plan that grants no model in particular grants all."),
        verbose_name=_("plans"),
    )
    kind = models.CharField(
        max_length=16,
        choices=ModelKind.choices,
        blank=True,
        help_text=_("What the model does; blank: guessed from its name. Only chat models are offered in chat."),
        verbose_name=_("kind"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    price_input_per_million = models.DecimalField(
        max_digits=18,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name=_("input price per million tokens"),
        help_text=_("In TOLLGATE_CURRENCY; empty: free."),
    )
    price_output_per_million = models.DecimalField(
        max_digits=18,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name=_("output price per million tokens"),
        help_text=_("In TOLLGATE_CURRENCY; empty: free."),
    )
    price_per_request = models.DecimalField(
        max_digits=18,
        decimal_places=PRICE_PLACES,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name=_("price per request"),
        help_text=_("In TOLLGATE_CURRENCY; empty: free."),
    )
    max_output_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name=_("max output tokens"),
        help_text=_(
            "What a call that names no max_tokens may cost at most, for budgets and token limits; empty: 4096."
        ),
    )

    class Meta:
        verbose_name = _("model")
        verbose_name_plural = _("models")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def served_as(self) -> str:
        return self.upstream_model or self.name

    @property
    def effective_kind(self) -> str:
        return self.kind or kind_guess(self.name)

    @property
    def price(self) -> Price | None:
        return Price.from_decimals(self.price_input_per_million, self.price_output_per_million, self.price_per_request)


class UpstreamDay(models.Model):
    """Each upstream's answers and failures per UTC day, and the time they took (for staff)."""

    upstream = models.ForeignKey(Upstream, on_delete=models.CASCADE, related_name="days", verbose_name=_("upstream"))
    day = models.DateField(verbose_name=_("day"))
    requests = models.PositiveIntegerField(default=0, verbose_name=_("requests"))
    errors = models.PositiveIntegerField(default=0, verbose_name=_("errors"))
    seconds = models.FloatField(
        default=0.0, help_text=_("Total time to the answer's start, for the average."), verbose_name=_("seconds")
    )

    class Meta:
        verbose_name = _("upstream day")
        verbose_name_plural = _("upstream days")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["upstream", "day"], name="one_row_per_upstream_day")]

    def __str__(self) -> str:
        return f"{self.upstream} {self.day}: {self.requests} ({self.errors} errors)"
