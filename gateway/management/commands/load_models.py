"""manage.py load_models FILE: the model catalogue from a JSON file, idempotently."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gateway.catalogue_load import CatalogueFileError, catalogue_load


class Command(BaseCommand):
    help = "Create or update upstreams, models and plan grants from a JSON file (see the README for its format)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="path to the JSON file")
        parser.add_argument("--dry-run", action="store_true", help="print the changes without saving them")

    def handle(self, *args, file: str, dry_run: bool, **options) -> None:
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except ValueError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from exc
        try:
            changes = catalogue_load(data=data, dry_run=dry_run)
        except CatalogueFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was changed.") from exc
        for change in changes:
            self.stdout.write(str(change))
        made = sum(change.action != "same" for change in changes)
        verb = "would change" if dry_run else "changed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {made} of {len(changes)} entries"))
