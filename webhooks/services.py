"""Changes to a user's webhook endpoints."""

from django.contrib.auth.base_user import AbstractBaseUser

from webhooks.models import USER_EVENTS, WebhookEndpoint


def endpoint_create(*, owner: AbstractBaseUser, url: str, events: list[str]) -> WebhookEndpoint:
    """A new endpoint for the owner's own keys' events; `url` already checked by the form."""
    return WebhookEndpoint.objects.create(owner=owner, url=url, events=[e for e in events if e in USER_EVENTS])


def endpoint_delete(*, owner: AbstractBaseUser, pk: int) -> bool:
    """Delete one of the owner's endpoints (and its deliveries); False if it is not theirs."""
    deleted, _ = WebhookEndpoint.objects.filter(owner=owner, pk=pk).delete()
    return bool(deleted)
