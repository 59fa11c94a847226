"""System checks: settings that are missing or contradict each other fail at start, clearly."""

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from keys.app_settings import app_settings


@register()
def check_keys_backend(app_configs=None, **kwargs) -> list[Error]:
    from keys.backends import backend_path, get_backend

    try:
        get_backend()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set KEYS_BACKEND to 'local' or 'aws'.", id="keys.E001")]
    errors = []
    if backend_path() == "apigateway.backend.AwsKeyBackend":
        required = {
            "AWS_API_GATEWAY_API_ID": app_settings.AWS_API_GATEWAY_API_ID,
            "AWS_API_GATEWAY_STAGE": app_settings.AWS_API_GATEWAY_STAGE,
            "AWS_API_GATEWAY_URL": app_settings.AWS_API_GATEWAY_URL,
            "AWS_REGION or AWS_DEFAULT_REGION": app_settings.AWS_REGION,
        }
        for name, value in required.items():
            if not value:
                errors.append(
                    Error(f"KEYS_BACKEND=aws needs {name}.", hint="See the README's AWS section.", id="keys.E002")
                )
    return errors
