"""allauth's social-account adapter: a provider's email address counts as verified only when it plainly says so."""

from typing import Any

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest


def _plainly_true(value: Any) -> bool:
    # Some providers send email_verified as the string "false", which Python reads as true.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict) -> Any:
        # Runs before allauth looks for an account by email: only a verified address may sign in to one.
        for address in sociallogin.email_addresses:
            address.verified = _plainly_true(address.verified)
        return super().populate_user(request, sociallogin, data)
