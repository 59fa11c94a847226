"""App config for plans, API keys and quotas."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = _("Plans and API keys")

    def ready(self) -> None:
        import atexit

        from keys import checks  # noqa: F401  (registers the system checks)
        from keys.metering import quota_leases_give_back_all, spool_close, usage_flush

        # What this process counted but has not written yet is written, or handed back, as it ends
        # (atexit runs these last first); its spool file is then not needed. Killed, it replays later.
        atexit.register(spool_close)
        atexit.register(usage_flush)
        atexit.register(quota_leases_give_back_all)
