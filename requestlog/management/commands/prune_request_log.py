"""manage.py prune_request_log: drop request log rows older than REQUEST_LOG_DAYS now."""

from django.core.management.base import BaseCommand

from requestlog.app_settings import app_settings
from requestlog.storage import log_prune


class Command(BaseCommand):
    help = "Drop request log rows older than REQUEST_LOG_DAYS (whole day partitions on PostgreSQL)."

    def handle(self, *args, **options) -> None:
        dropped = log_prune()
        unit = "partitions" if self._postgres() else "rows"
        self.stdout.write(f"Dropped {dropped} {unit} older than {app_settings.DAYS} days.")

    @staticmethod
    def _postgres() -> bool:
        from django.db import connection

        return connection.vendor == "postgresql"
