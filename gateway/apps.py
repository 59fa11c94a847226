"""The OpenAI-compatible /v1 gateway: relays requests to the LLM upstream once metering admits them."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = _("Gateway")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gateway import checks  # noqa: F401  (registers the system checks)
        from gateway.overview import overview_warm
        from requestlog.signals import hourly_upkeep

        hourly_upkeep.connect(overview_warm, dispatch_uid="gateway.overview_warm")
