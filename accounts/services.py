"""Changes to a user's account: settings, language, and the first staff user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import AccountSettings


def account_settings_update(*, user: AbstractBaseUser, usage_alerts: bool) -> None:
    AccountSettings.objects.update_or_create(user=user, defaults={"usage_alerts": usage_alerts})


def account_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Remember the language a signed-in user chose, so that mail sent off any request speaks it too."""
    AccountSettings.objects.update_or_create(user=user, defaults={"language": language})


class StaffUserExists(Exception):
    """Someone already signs in with this email."""


@transaction.atomic
def staff_user_create(*, email: str, password: str) -> AbstractBaseUser:
    """A superuser who signs in by email (the username is the email), with the address confirmed.

    The operator typed the address themselves, so it needs no confirmation mail; two-factor needs it confirmed.
    """
    from allauth.account.models import EmailAddress

    email = email.strip()
    validate_email(email)
    users = get_user_model().objects
    if users.filter(email__iexact=email).exists() or users.filter(username__iexact=email).exists():
        raise StaffUserExists(email)
    validate_password(password, user=users.model(username=email, email=email))
    user = users.create_superuser(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user
