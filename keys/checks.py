"""System checks: settings that are missing or contradict each other fail at start, clearly."""

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def check_keys_backend(app_configs=None, **kwargs) -> list[Error]:
    from keys.backends import backend_path, get_backend

    try:
        get_backend()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set KEYS_BACKEND to 'local' or 'aws'.", id="keys.E001")]
    errors = []
    if backend_path() == "keys.backends.aws.AwsKeyBackend":
        required = {
            "AWS_API_GATEWAY_API_ID": settings.AWS_API_GATEWAY_API_ID,
            "AWS_API_GATEWAY_STAGE": settings.AWS_API_GATEWAY_STAGE,
            "AWS_API_GATEWAY_URL": settings.AWS_API_GATEWAY_URL,
            "AWS_REGION or AWS_DEFAULT_REGION": settings.AWS_REGION,
        }
        for name, value in required.items():
            if not value:
                errors.append(
                    Error(f"KEYS_BACKEND=aws needs {name}.", hint="See the README's AWS section.", id="keys.E002")
                )
    return errors


@register()
def check_llm_upstream(app_configs=None, **kwargs) -> list[Error]:
    url = settings.LLM_BASE_URL
    if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        return [
            Error(f"LLM_BASE_URL={url!r} is not an http(s) URL.", hint="e.g. http://127.0.0.1:8080/v1", id="keys.E003")
        ]
    return []
