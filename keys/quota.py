"""Exact daily quotas: one atomic conditional increment, in the database or in Redis."""

import asyncio
import datetime
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from keys.dbthread import group_commit, in_db_thread
from keys.models import ApiKey, DailyUsage, Plan, QuotaCounter


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the gateway needs to know about a key; cached for a moment, never holds plaintext."""

    key_id: int
    owner_id: int
    plan_id: int
    plan_name: str
    limit: int
    throttle_rate: float | None
    throttle_burst: int | None
    hashed_secret: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    used: int
    limit: int
    revoked: bool = False

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def seconds_until_reset(now: datetime.datetime | None = None) -> int:
    now = now or datetime.datetime.now(datetime.UTC)
    tomorrow = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    return max(int((tomorrow - now).total_seconds()) + 1, 1)


_TABLE = QuotaCounter._meta.db_table
_CONSUME_SQL = f"""
UPDATE {_TABLE} SET used = used + 1
WHERE owner_id = %s AND plan_id = %s AND day = %s
  AND used < (SELECT requests_per_day FROM {Plan._meta.db_table} WHERE id = %s)
  AND EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} WHERE id = %s AND revoked_at IS NULL)
RETURNING used
"""
_ENSURE_SQL = f"""
INSERT INTO {_TABLE} (owner_id, plan_id, day, used) VALUES (%s, %s, %s, 0)
ON CONFLICT (owner_id, plan_id, day) DO NOTHING
"""
_REFUND_SQL = f"UPDATE {_TABLE} SET used = used - 1 WHERE owner_id = %s AND plan_id = %s AND day = %s AND used > 0"


class DatabaseQuota:
    """The counter is a row; PostgreSQL's row lock or SQLite's write lock makes the increment exact."""

    def consume_sync(self, info: KeyInfo, day: datetime.date) -> Admission:
        args = (info.owner_id, info.plan_id, day, info.plan_id, info.key_id)
        with connection.cursor() as cursor:
            cursor.execute(_CONSUME_SQL, args)
            row = cursor.fetchone()
            if row is None:  # the day's row may not exist yet: make it, then try once more
                cursor.execute(_ENSURE_SQL, (info.owner_id, info.plan_id, day))
                cursor.execute(_CONSUME_SQL, args)
                row = cursor.fetchone()
        if row is not None:
            return Admission(admitted=True, used=row[0], limit=info.limit)
        # Refused: read the live state to say why.
        revoked = not ApiKey.objects.filter(pk=info.key_id, revoked_at__isnull=True).exists()
        limit = Plan.objects.filter(pk=info.plan_id).values_list("requests_per_day", flat=True).first() or 0
        return Admission(
            admitted=False, used=self.used_sync(info.owner_id, info.plan_id, day), limit=limit, revoked=revoked
        )

    def refund_sync(self, info: KeyInfo, day: datetime.date) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_REFUND_SQL, (info.owner_id, info.plan_id, day))

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        row = QuotaCounter.objects.filter(owner_id=owner_id, plan_id=plan_id, day=day).values_list("used", flat=True)
        return row.first() or 0

    def revoke_sync(self, key_id: int) -> None:
        return None  # the consume statement reads revoked_at itself

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        return await group_commit.run(self.consume_sync, info, day)

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        return await in_db_thread(self.used_sync, info.owner_id, info.plan_id, day)

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        await group_commit.run(self.refund_sync, info, day)


_CONSUME_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
local raw = redis.call('GET', KEYS[1])
if not raw then
  if ARGV[3] == '' then return {-2, 0} end
  redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[2])
  raw = redis.call('GET', KEYS[1])
end
local used = tonumber(raw)
if used >= tonumber(ARGV[1]) then return {0, used} end
return {1, redis.call('INCR', KEYS[1])}
"""
_REFUND_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""
_COUNTER_TTL = 3 * 24 * 3600


def _answered_in_database(owner_id: int, plan_id: int, day: datetime.date) -> int:
    usage = DailyUsage.objects.filter(key__owner_id=owner_id, key__plan_id=plan_id, day=day)
    return usage.aggregate(total=Sum("requests"))["total"] or 0


class RedisQuota:
    """The counter is a Redis key changed by a Lua script, which Redis runs atomically.

    A day's counter that Redis does not have (a new day, or Redis restarted) starts from the requests
    the database recorded, so a restart of Redis does not hand out the day's quota again.
    """

    def __init__(self, url: str) -> None:
        import redis
        import redis.asyncio

        self.url = url
        self.sync = redis.Redis.from_url(url)
        self._async_module = redis.asyncio
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts = None

    def _script(self, name: str):
        # An asyncio client belongs to the loop that made it; a server process has one loop.
        loop = asyncio.get_running_loop()
        if self._scripts is None or self._loop is not loop:
            client = self._async_module.Redis.from_url(self.url)
            self._scripts = {
                "consume": client.register_script(_CONSUME_LUA),
                "refund": client.register_script(_REFUND_LUA),
            }
            self._loop = loop
        return self._scripts[name]

    @staticmethod
    def counter_key(owner_id: int, plan_id: int, day: datetime.date) -> str:
        return f"tollgate:quota:{owner_id}:{plan_id}:{day.isoformat()}"

    @staticmethod
    def revoked_key(key_id: int) -> str:
        return f"tollgate:revoked:{key_id}"

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        keys = [self.counter_key(info.owner_id, info.plan_id, day), self.revoked_key(info.key_id)]
        code, used = await self._script("consume")(keys=keys, args=[info.limit, _COUNTER_TTL, ""])
        if code == -2:
            seed = await in_db_thread(_answered_in_database, info.owner_id, info.plan_id, day)
            code, used = await self._script("consume")(keys=keys, args=[info.limit, _COUNTER_TTL, seed])
        return Admission(admitted=code == 1, used=int(used), limit=info.limit, revoked=code == -1)

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        await self._script("refund")(keys=[self.counter_key(info.owner_id, info.plan_id, day)])

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        return int(self.sync.get(self.counter_key(owner_id, plan_id, day)) or 0)

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        client = self._script("consume").registered_client
        return int(await client.get(self.counter_key(info.owner_id, info.plan_id, day)) or 0)

    def revoke_sync(self, key_id: int) -> None:
        self.sync.set(self.revoked_key(key_id), 1)


@lru_cache(maxsize=4)
def _store_for(redis_url: str) -> DatabaseQuota | RedisQuota:
    return RedisQuota(redis_url) if redis_url else DatabaseQuota()


def get_quota_store() -> DatabaseQuota | RedisQuota:
    """The store for the current settings: Redis when REDIS_URL is set, else the database."""
    return _store_for(settings.REDIS_URL)
