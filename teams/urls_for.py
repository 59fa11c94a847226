"""Absolute links the team mails carry."""

from django.http import HttpRequest
from django.urls import reverse


def invitation_link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("invitation", args=[token]))
