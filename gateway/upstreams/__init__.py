"""LLM upstreams as backends: which one answers is chosen by the catalogue and the key backend."""

from functools import lru_cache

from gateway.app_settings import app_settings
from gateway.errors import AdmissionRefused, UpstreamError, UpstreamRefused
from gateway.upstreams.base import BaseUpstream
from gateway.upstreams.demo import DEMO_MODEL, DemoUpstream
from gateway.upstreams.openai import OpenAIUpstream

__all__ = [
    "DEMO_MODEL",
    "AdmissionRefused",
    "BaseUpstream",
    "UpstreamError",
    "UpstreamRefused",
    "aws_gateway_upstream",
    "client_for",
    "default_model",
    "get_upstream",
]


@lru_cache(maxsize=256)
def client_for(base_url: str, api_key: str, timeout: float, max_concurrent: int = 0) -> BaseUpstream:
    """One client (and connection pool) per upstream and credentials; the demo model for no URL."""
    return OpenAIUpstream(base_url, api_key, timeout, max_concurrent) if base_url else DemoUpstream()


def get_upstream() -> BaseUpstream:
    """The upstream for the current settings; the demo model when LLM_BASE_URL is unset."""
    return client_for(
        app_settings.LLM_BASE_URL, app_settings.LLM_API_KEY, app_settings.LLM_TIMEOUT, app_settings.LLM_MAX_CONCURRENT
    )


def default_model() -> str:
    """The model a request that names none gets."""
    if not app_settings.LLM_BASE_URL:
        return DEMO_MODEL
    return app_settings.LLM_MODEL


def aws_gateway_upstream(url: str, user_key: str) -> BaseUpstream:
    """AWS API Gateway at `url`, called with the user's own key: it admits by the key's usage plan."""
    from gateway.upstreams.aws import AwsGatewayUpstream

    return AwsGatewayUpstream(client_for(url, "", app_settings.LLM_TIMEOUT), user_key)
