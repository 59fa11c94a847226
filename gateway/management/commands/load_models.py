"""manage.py load_models FILE: the model catalogue from a JSON file, idempotently."""

from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gateway.catalogue_file import CatalogueFileError, catalogue_parse
from gateway.catalogue_load import catalogue_load

SHOWN = 20


class Command(BaseCommand):
    help = "Create or update upstreams, models and plan grants from a JSON file (see the README for its format)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="path to the JSON file")
        parser.add_argument("--dry-run", action="store_true", help="print the changes without saving them")
        parser.add_argument(
            "--allow-unset-env",
            action="store_true",
            help="load upstreams whose api_key_env variable is not set in this environment",
        )

    def handle(self, *args, file: str, dry_run: bool, allow_unset_env: bool, **options) -> None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text: {exc.reason} at byte {exc.start}.") from exc
        verbosity = options.get("verbosity", 1)
        try:
            data = catalogue_parse(text)
            progress = self._progress if verbosity and self.stderr.isatty() else None
            changes = catalogue_load(data=data, dry_run=dry_run, allow_unset_env=allow_unset_env, progress=progress)
        except CatalogueFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was changed.") from exc
        # A line per entry only when asked (-v 2); otherwise what changed, up to a screenful, and the summary.
        shown = [c for c in changes if verbosity >= 2 or (verbosity and c.action != "same")]
        for change in shown[: None if verbosity >= 2 else SHOWN]:
            self.stdout.write(str(change))
        if len(shown) > SHOWN and verbosity < 2:
            self.stdout.write(f"… and {len(shown) - SHOWN} more (-v 2 lists every entry)")
        actions = Counter(change.action for change in changes)
        made = len(changes) - actions["same"]
        verb = "would change" if dry_run else "changed"
        counts = f"created {actions['create']}, changed {actions['update']}, unchanged {actions['same']}"
        self.stdout.write(self.style.SUCCESS(f"{verb} {made} of {len(changes)} entries ({counts})"))

    def _progress(self, done: int, total: int) -> None:
        if total >= 200 and (done % 100 == 0 or done == total):  # a bar for big files, on a terminal only
            filled = 30 * done // total
            self.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", ending="")
            if done == total:
                self.stderr.write("")
