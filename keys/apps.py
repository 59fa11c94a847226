"""App config for plans, API keys and quotas."""

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "Plans and API keys"

    def ready(self) -> None:
        from keys import audit_signals, checks  # noqa: F401  (registers the signal receivers and system checks)
