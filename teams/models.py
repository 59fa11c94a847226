"""Teams, their members' roles, and invitations by email."""

import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

INVITATION_DAYS = 7


class Team(models.Model):
    name = models.CharField(max_length=80, verbose_name=_("name"))
    email_domain = models.CharField(
        max_length=253,
        blank=True,
        validators=[RegexValidator(r"^[a-z0-9.-]+\.[a-z]{2,}$", _("A domain such as example.com, in lower case."))],
        verbose_name=_("email domain"),
        help_text=_("People who sign in by single sign-on with a verified address here join as members."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("owner")
    ADMIN = "admin", _("admin")
    MEMBER = "member", _("member")


MANAGING_ROLES = (Role.OWNER, Role.ADMIN)


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("team"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER, verbose_name=_("role"))
    joined_at = models.DateTimeField(auto_now_add=True, verbose_name=_("joined at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def manages(self) -> bool:
        return self.role in MANAGING_ROLES


def _invitation_expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=INVITATION_DAYS)


class Invitation(models.Model):
    """An invitation by email. Only a hash of its token is kept: the link in the mail is the secret."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("team"))
    email = models.EmailField(verbose_name=_("email"))
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER, verbose_name=_("role"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("token hash"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("invited by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(default=_invitation_expiry, verbose_name=_("expires at"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                name="one_open_invitation_per_team_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.cancelled_at is None and self.expires_at > timezone.now()
