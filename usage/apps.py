"""App config for usage pages, exports and alerts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = _("Usage")

    def ready(self) -> None:
        from keys.signals import usage_threshold_crossed
        from usage.alerts import alert_on_threshold

        usage_threshold_crossed.connect(alert_on_threshold, dispatch_uid="usage.alerts")
