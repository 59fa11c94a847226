"""Reads of webhook endpoints and deliveries, always scoped to who is asking."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, owner: AbstractBaseUser) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner)


def delivery_list(*, owner: AbstractBaseUser, limit: int = 25) -> list[WebhookDelivery]:
    """The owner's latest deliveries, newest first."""
    return list(WebhookDelivery.objects.filter(endpoint__owner=owner).select_related("endpoint")[:limit])
