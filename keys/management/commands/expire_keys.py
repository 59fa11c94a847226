"""manage.py expire_keys: revoke every key past its expiry (so a backend such as API Gateway stops it too),
and announce the keys that expire within a week (the key.expiring webhook)."""

from django.core.management.base import BaseCommand

from keys.services import keys_expire_due, keys_expiring_announce


class Command(BaseCommand):
    help = "Revoke keys whose expiry has passed and announce those expiring within a week (run it from cron)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"revoked {keys_expire_due()} expired key(s)")
        self.stdout.write(f"announced {keys_expiring_announce()} key(s) expiring within a week")
