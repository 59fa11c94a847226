"""Reads of a user's settings and trail, always scoped to that user."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from accounts.models import AccountSettings, AuditEvent


def account_settings_get(*, user: AbstractBaseUser) -> AccountSettings:
    """The user's settings; the defaults (unsaved) for a user who never changed them."""
    return AccountSettings.objects.filter(user=user).first() or AccountSettings(user=user)


def audit_events_for(*, user: AbstractBaseUser) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(Q(actor=user) | Q(subject=user))
