"""Throttle buckets in this process: exact for one worker, which is the embedded default."""

import time
from dataclasses import dataclass

from keys.metering.throttle.base import BaseThrottle, bucket_size
from keys.metering.types import KeyInfo


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class LocalThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}

    async def wait(self, info: KeyInfo) -> float:
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
