"""Changes to a user's account settings."""

from django.contrib.auth.base_user import AbstractBaseUser

from accounts.models import AccountSettings


def account_settings_update(*, user: AbstractBaseUser, usage_alerts: bool) -> None:
    AccountSettings.objects.update_or_create(user=user, defaults={"usage_alerts": usage_alerts})


def account_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Remember the language a signed-in user chose, so that mail sent off any request speaks it too."""
    AccountSettings.objects.update_or_create(user=user, defaults={"language": language})
