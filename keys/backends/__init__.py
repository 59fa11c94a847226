"""Resolve the key backend named by the KEYS_BACKEND setting."""

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from keys.app_settings import app_settings
from keys.backends.base import BaseKeyBackend

ALIASES = {
    "local": "keys.backends.local.LocalKeyBackend",
    "aws": "apigateway.backend.AwsKeyBackend",
}


def backend_path(name: str | None = None) -> str:
    name = name or app_settings.KEYS_BACKEND
    return ALIASES.get(name, name)


def get_backend(name: str | None = None, **options) -> BaseKeyBackend:
    """Return a backend instance; the setting is read now, not at import time."""
    path = backend_path(name)
    try:
        klass = import_string(path)
    except ImportError as exc:
        setting = name or app_settings.KEYS_BACKEND
        raise ImproperlyConfigured(
            f"KEYS_BACKEND={setting!r} is not 'local', 'aws' or an importable dotted path: {exc}"
        ) from exc
    return klass(**options)
