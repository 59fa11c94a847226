"""Resolve the key backend named by the KEYS_BACKEND setting."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from keys.backends.base import BaseKeyBackend

ALIASES = {
    "local": "keys.backends.local.LocalKeyBackend",
    "aws": "keys.backends.aws.AwsKeyBackend",
}


def backend_path(name: str | None = None) -> str:
    name = name or settings.KEYS_BACKEND
    return ALIASES.get(name, name)


def get_backend(name: str | None = None, **options) -> BaseKeyBackend:
    """Return a backend instance; the setting is read now, not at import time."""
    path = backend_path(name)
    try:
        klass = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"KEYS_BACKEND={name or settings.KEYS_BACKEND!r} is not 'local', 'aws' or an importable dotted path: {exc}"
        ) from exc
    return klass(**options)
