"""App config for users' settings and the audit trail."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Account settings and audit trail")

    def ready(self) -> None:
        from accounts import audit_signals  # noqa: F401  (registers the audit trail's receivers)
