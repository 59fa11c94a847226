"""The request log's settings, read when asked so that tests and operators can change them."""

from django.conf import settings


class AppSettings:
    @property
    def DAYS(self) -> int:
        """How many days of rows are kept (REQUEST_LOG_DAYS)."""
        return max(int(getattr(settings, "REQUEST_LOG_DAYS", 30)), 1)

    @property
    def KEEP_IP(self) -> bool:
        """Whether the client's address is stored (REQUEST_LOG_IP=0 leaves it out)."""
        return bool(getattr(settings, "REQUEST_LOG_IP", True))


app_settings = AppSettings()
