"""manage.py sync_plans: make API Gateway's usage plans match Tollgate's Plans."""

from django.core.management.base import BaseCommand, CommandError

from apigateway.plans import plans_import, plans_sync
from keys.exceptions import KeyBackendError
from keys.models import Plan
from keys.signals import plans_synced


class Command(BaseCommand):
    help = "Create or update one AWS API Gateway usage plan per active Plan (KEYS_BACKEND=aws). Idempotent."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--import", dest="import_", action="store_true", help="Create Plans from usage plans.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; change nothing.")

    def handle(self, *args, import_: bool = False, dry_run: bool = False, **options) -> None:
        try:
            changes = plans_import(dry_run=dry_run) if import_ else []
            changes += plans_sync(dry_run=dry_run)
        except KeyBackendError as exc:
            raise CommandError(exc.message) from exc
        if not dry_run:
            summary = "; ".join(str(change) for change in changes) or "already matched"
            plans_synced.send_robust(sender=Plan, summary=f"manage.py sync_plans: {summary}", actor=None)
        prefix = "would " if dry_run else ""
        for change in changes:
            self.stdout.write(f"{prefix}{change}")
        if not changes:
            self.stdout.write(self.style.SUCCESS("Usage plans already match the Plans; nothing to change."))
