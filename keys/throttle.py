"""Per-second throttles: a token bucket per key, in this process or, with REDIS_URL, shared in Redis."""

import asyncio
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from keys.quota import KeyInfo


def bucket_size(info: KeyInfo) -> float:
    return float(info.throttle_burst or max(info.throttle_rate or 1.0, 1.0))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class LocalThrottle:
    """Buckets in this process: exact for one worker, which is the embedded default."""

    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}

    async def wait(self, info: KeyInfo) -> float:
        """Take a token; return 0 if there was one, else the seconds until there will be."""
        rate, burst, now = info.throttle_rate, bucket_size(info), time.monotonic()
        bucket = self._buckets.get(info.key_id)
        if bucket is None:
            bucket = self._buckets[info.key_id] = _Bucket(tokens=burst, stamp=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


# Redis's own clock, so that workers on several machines agree on "now".
_TAKE_LUA = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisThrottle:
    """One bucket per key shared by every worker, taken from by an atomic Lua script."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.url = url
        self._module = redis.asyncio
        self._loop: asyncio.AbstractEventLoop | None = None
        self._script = None

    async def wait(self, info: KeyInfo) -> float:
        loop = asyncio.get_running_loop()
        if self._script is None or self._loop is not loop:
            self._script = self._module.Redis.from_url(self.url).register_script(_TAKE_LUA)
            self._loop = loop
        wait = await self._script(
            keys=[f"tollgate:throttle:{info.key_id}"], args=[info.throttle_rate, bucket_size(info)]
        )
        return float(wait)


@lru_cache(maxsize=4)
def _throttle_for(redis_url: str) -> LocalThrottle | RedisThrottle:
    return RedisThrottle(redis_url) if redis_url else LocalThrottle()


def get_throttle() -> LocalThrottle | RedisThrottle:
    return _throttle_for(settings.REDIS_URL)


async def throttle_wait(info: KeyInfo) -> float:
    """0 if the key may make a request now (a token is taken), else seconds to wait. Free if unthrottled."""
    if not info.throttle_rate:
        return 0.0
    return await get_throttle().wait(info)
