"""The OpenAI-compatible /v1 gateway: relays requests to the LLM upstream once metering admits them."""

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gateway import checks  # noqa: F401  (registers the system checks)
