"""Throttle buckets in Redis, shared by every worker, taken from by an atomic Lua script."""

from keys.metering.throttle.base import BaseThrottle, bucket_size
from keys.metering.types import KeyInfo
from plumbing.loopbound import LoopBound
from plumbing.redis import redis_client

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


class RedisThrottle(BaseThrottle):
    def __init__(self, url: str) -> None:
        self.url = url
        self._script = LoopBound(lambda: redis_client(url).register_script(_TAKE_LUA))

    async def wait(self, info: KeyInfo) -> float:
        wait = await self._script.get()(
            keys=[f"tollgate:throttle:{info.key_id}"], args=[info.throttle_rate, bucket_size(info)]
        )
        return float(wait)
