"""Template context shared by every page."""

from django.http import HttpRequest

from gateway.app_settings import app_settings
from gateway.upstreams import default_model


def site(request: HttpRequest) -> dict:
    return {"demo_model": not app_settings.LLM_BASE_URL, "default_model": default_model()}
