"""manage.py model_source: one line saying which models answer here (`make run` prints it)."""

from django.core.management.base import BaseCommand

from portal.model_source import banner


class Command(BaseCommand):
    help = "Say which models answer: the catalogue, LLM_BASE_URL, or the built-in demo model."

    def handle(self, *args, **options) -> None:
        self.stdout.write(banner())
