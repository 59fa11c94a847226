"""Resolve the daily-quota store: Redis when REDIS_URL is set, else the database."""

from functools import lru_cache

from keys.app_settings import app_settings
from keys.metering.quota.base import BaseQuotaStore


@lru_cache(maxsize=4)
def _store_for(redis_url: str) -> BaseQuotaStore:
    if redis_url:
        from keys.metering.quota.redis import RedisQuota

        return RedisQuota(redis_url)
    from keys.metering.quota.database import DatabaseQuota

    return DatabaseQuota()


def get_quota_store() -> BaseQuotaStore:
    """The store for the current settings, read now; one instance per setting value."""
    return _store_for(app_settings.REDIS_URL)
