"""App config for plans, API keys and quotas."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = _("Plans and API keys")

    def ready(self) -> None:
        from keys import checks  # noqa: F401  (registers the system checks)
