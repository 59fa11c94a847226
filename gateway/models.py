"""The model catalogue: upstream servers, the models users name, and which plans grant them."""

import os

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from gateway.sealing import seal, unseal
from keys.models import Plan

NAME = RegexValidator(r"^[A-Za-z0-9._:/-]+$", "Use letters, digits and . _ : / - only.")


class Upstream(models.Model):
    """An OpenAI-compatible server. Its API key is sealed at rest, or read from an environment variable."""

    name = models.CharField(max_length=64, unique=True, validators=[NAME])
    base_url = models.URLField(max_length=300, help_text="Including /v1, e.g. http://10.0.0.5:8000/v1")
    sealed_api_key = models.TextField(blank=True, editable=False)
    api_key_env = models.CharField(
        max_length=128, blank=True, help_text="Read the API key from this environment variable instead."
    )
    timeout = models.FloatField(default=120.0, validators=[MinValueValidator(1.0)], help_text="Seconds.")
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    max_concurrent = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most requests in flight to this upstream from each Tollgate process; more get 503. Empty: no limit.",
    )
    enabled = models.BooleanField(default=True)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else unseal(self.sealed_api_key)

    def set_api_key(self, plaintext: str) -> None:
        self.sealed_api_key = seal(plaintext)

    @property
    def has_api_key(self) -> bool:
        return bool(self.sealed_api_key or self.api_key_env)


class CatalogModel(models.Model):
    """A model as users name it, served by one or more upstreams under the upstream's own name."""

    name = models.CharField(max_length=128, unique=True, validators=[NAME], help_text="The name users send.")
    upstream_model = models.CharField(
        max_length=128, blank=True, help_text="The name the upstream knows it by; empty: the same name."
    )
    upstreams = models.ManyToManyField(Upstream, related_name="models")
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="models",
        help_text="Plans that grant this model. A plan that grants no model in particular grants all.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.name

    @property
    def served_as(self) -> str:
        return self.upstream_model or self.name


class UpstreamDay(models.Model):
    """Each upstream's answers and failures per UTC day, and the time they took (for staff)."""

    upstream = models.ForeignKey(Upstream, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0, help_text="Total time to the answer's start, for the average.")

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["upstream", "day"], name="one_row_per_upstream_day")]

    def __str__(self) -> str:
        return f"{self.upstream} {self.day}: {self.requests} ({self.errors} errors)"
