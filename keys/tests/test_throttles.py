"""One contract for both throttles: a token bucket of `burst` tokens refilled at `rate` a second."""

import dataclasses

import pytest

from keys.metering import KeyInfo
from keys.metering.throttle import throttle_wait
from keys.metering.throttle.local import LocalThrottle
from keys.metering.throttle.redis import RedisThrottle

INFO = KeyInfo(
    key_id=987654,
    owner_id=1,
    plan_id=1,
    plan_name="Throttled",
    limit=100,
    throttle_rate=0.5,
    throttle_burst=2,
    hashed_secret="",
    revoked=False,
)


class ThrottleContract:
    async def test_a_burst_then_a_wait(self, throttle):
        assert await throttle.wait(INFO) == 0
        assert await throttle.wait(INFO) == 0
        wait = await throttle.wait(INFO)
        assert 1.9 <= wait <= 2.0  # one token comes back every 2 seconds

    async def test_keys_have_their_own_buckets(self, throttle):
        other = dataclasses.replace(INFO, key_id=INFO.key_id + 1)
        for _ in range(2):
            await throttle.wait(INFO)
        assert await throttle.wait(INFO) > 0
        assert await throttle.wait(other) == 0


class TestLocalThrottle(ThrottleContract):
    @pytest.fixture
    def throttle(self):
        return LocalThrottle()


class TestRedisThrottle(ThrottleContract):
    @pytest.fixture
    def throttle(self, fresh_redis_url):
        return RedisThrottle(fresh_redis_url)

    async def test_workers_share_one_bucket(self, throttle, test_redis_url):
        another_worker = RedisThrottle(test_redis_url)
        assert await throttle.wait(INFO) == 0
        assert await another_worker.wait(INFO) == 0
        assert await throttle.wait(INFO) > 0


async def test_unthrottled_plans_cost_nothing(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # would fail if it were asked
    assert await throttle_wait(dataclasses.replace(INFO, throttle_rate=None)) == 0
