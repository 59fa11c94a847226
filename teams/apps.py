"""The teams app: shared quotas, invitations and roles."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    name = "teams"
    verbose_name = _("Teams")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from teams import receivers  # noqa: F401
