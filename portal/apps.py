"""The site itself: after every migrate, the database cache's table is there (no step by hand)."""

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def cache_table_create(*, using: str, **kwargs) -> None:
    # createcachetable makes only the tables of configured DatabaseCache caches, and skips existing ones.
    call_command("createcachetable", database=using, verbosity=0)


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Tollgate"

    def ready(self) -> None:
        post_migrate.connect(cache_table_create, sender=self, dispatch_uid="portal.cache_table_create")
