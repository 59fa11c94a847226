"""Resolve the throttle: shared in Redis when REDIS_URL is set, else in this process."""

from functools import lru_cache

from keys.app_settings import app_settings
from keys.metering.throttle.base import BaseThrottle


@lru_cache(maxsize=4)
def _throttle_for(redis_url: str) -> BaseThrottle:
    if redis_url:
        from keys.metering.throttle.redis import RedisThrottle

        return RedisThrottle(redis_url)
    from keys.metering.throttle.local import LocalThrottle

    return LocalThrottle()


def get_throttle() -> BaseThrottle:
    return _throttle_for(app_settings.REDIS_URL)


async def throttle_wait(info) -> float:
    """0 if the key may make a request now (a token is taken), else seconds to wait. Free if unthrottled."""
    if not info.throttle_rate:
        return 0.0
    return await get_throttle().wait(info)
