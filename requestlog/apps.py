"""App config for the request log."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestLogConfig(AppConfig):
    name = "requestlog"
    verbose_name = _("Request log")

    def ready(self) -> None:
        import atexit

        from requestlog.writer import request_log_flush

        # Rows noted but not yet written are written as the process ends.
        atexit.register(request_log_flush)
