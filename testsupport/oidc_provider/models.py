"""What the test provider keeps beyond django-oauth-toolkit's own tables."""

from django.conf import settings
from django.db import models


class Claims(models.Model):
    """Claims a user's ID token and userinfo carry besides sub and email, e.g. {"email_verified": True}."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims")
    values = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"claims of {self.user}"


class AuthorizationSeen(models.Model):
    """One authorization request the provider granted: the PKCE method the client used, for the tests to read.

    django-oauth-toolkit deletes its Grant row once the code is exchanged."""

    client_id = models.CharField(max_length=100)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    scopes = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.client_id}: {self.code_challenge_method or 'no PKCE'}"
