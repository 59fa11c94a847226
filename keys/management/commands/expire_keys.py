"""manage.py expire_keys: revoke every key past its expiry, so a backend such as API Gateway stops it too."""

from django.core.management.base import BaseCommand

from keys.services import keys_expire_due


class Command(BaseCommand):
    help = "Revoke keys whose expiry has passed (run it from cron with KEYS_BACKEND=aws)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"revoked {keys_expire_due()} expired key(s)")
