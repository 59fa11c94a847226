"""Daily quotas in Redis: a counter changed by a Lua script, which Redis runs atomically."""

import datetime

import redis
from django.db import connection
from django.db.models import Sum

from keys.metering.quota.base import BaseQuotaStore
from keys.metering.quota.database import _CARRY_SQL
from keys.metering.quota.journal import AdmissionJournal, journal_used
from keys.metering.types import Admission, KeyInfo
from keys.models import DailyUsage
from plumbing.dbthread import in_db_thread
from plumbing.loopbound import LoopBound
from plumbing.redis import redis_client

_CONSUME_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
local plan = redis.call('GET', KEYS[3])
if plan and plan ~= ARGV[4] then return {-3, 0} end
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
_TAKE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0, 0} end
local plan = redis.call('GET', KEYS[3])
if plan and plan ~= ARGV[5] then return {-3, 0, 0} end
local raw = redis.call('GET', KEYS[1])
if not raw then
  if ARGV[3] == '' then return {-2, 0, 0} end
  redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[2])
  raw = redis.call('GET', KEYS[1])
end
local used, limit, wanted = tonumber(raw), tonumber(ARGV[1]), tonumber(ARGV[4])
if used + wanted > limit then wanted = 1 end
if used + wanted > limit then return {0, used, 0} end
return {1, redis.call('INCRBY', KEYS[1], wanted), wanted}
"""
_GIVE_BACK_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[1]))
if back > 0 then return redis.call('DECRBY', KEYS[1], back) end
return used
"""
_REFUND_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""
_CARRY_LUA = """
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[4]) end
local from_used = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1]))
local to_used = tonumber(redis.call('GET', KEYS[2]) or ARGV[2])
if from_used > to_used then to_used = from_used end
redis.call('SET', KEYS[2], to_used, 'EX', ARGV[3])
return to_used
"""
_RAISE_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 0
"""
_COUNTER_TTL = 3 * 24 * 3600
_MOVED, _UNSEEDED, _REVOKED, _ADMITTED = -3, -2, -1, 1


def _admitted_in_database(owner_id: int, plan_id: int, day: datetime.date) -> int:
    """Where a counter Redis lacks starts: the journal's admissions (in flight included), and never
    below the answers recorded for keys now in the plan (a day that began before the journal)."""
    usage = DailyUsage.objects.filter(key__owner_id=owner_id, key__plan_id=plan_id, day=day)
    return max(journal_used(owner_id, plan_id, day), usage.aggregate(total=Sum("requests"))["total"] or 0)


class _Scripts:
    def __init__(self, url: str) -> None:
        self.client = redis_client(url)
        self.consume = self.client.register_script(_CONSUME_LUA)
        self.refund = self.client.register_script(_REFUND_LUA)
        self.take = self.client.register_script(_TAKE_LUA)
        self.give_back = self.client.register_script(_GIVE_BACK_LUA)


class RedisQuota(BaseQuotaStore):
    """A day's counter that Redis does not have (a new day, or Redis restarted) starts from the
    requests the database recorded, so a restart of Redis does not hand out the day's quota again.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.sync = redis.Redis.from_url(url)
        self._scripts = LoopBound(lambda: _Scripts(url))
        self.journal = AdmissionJournal()

    @staticmethod
    def counter_key(owner_id: int, plan_id: int, day: datetime.date) -> str:
        return f"tollgate:quota:{owner_id}:{plan_id}:{day.isoformat()}"

    @staticmethod
    def revoked_key(key_id: int) -> str:
        return f"tollgate:revoked:{key_id}"

    @staticmethod
    def plan_key(key_id: int) -> str:
        """Set when a key switches plans: its plan from then on, so stale copies elsewhere are refused."""
        return f"tollgate:keyplan:{key_id}"

    def _keys(self, info: KeyInfo, day: datetime.date) -> list[str]:
        return [
            self.counter_key(info.owner_id, info.plan_id, day),
            self.revoked_key(info.key_id),
            self.plan_key(info.key_id),
        ]

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        keys, script = self._keys(info, day), self._scripts.get().consume
        code, used = await script(keys=keys, args=[info.limit, _COUNTER_TTL, "", info.plan_id])
        if code == _UNSEEDED:
            seed = await in_db_thread(_admitted_in_database, info.owner_id, info.plan_id, day)
            code, used = await script(keys=keys, args=[info.limit, _COUNTER_TTL, seed, info.plan_id])
        if code == _ADMITTED:
            self.journal.add(info.owner_id, info.plan_id, day, 1)
        return Admission(
            admitted=code == _ADMITTED, used=int(used), limit=info.limit, revoked=code == _REVOKED, moved=code == _MOVED
        )

    async def take(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        keys, script = self._keys(info, day), self._scripts.get().take
        code, used, granted = await script(keys=keys, args=[info.limit, _COUNTER_TTL, "", wanted, info.plan_id])
        if code == _UNSEEDED:
            seed = await in_db_thread(_admitted_in_database, info.owner_id, info.plan_id, day)
            code, used, granted = await script(keys=keys, args=[info.limit, _COUNTER_TTL, seed, wanted, info.plan_id])
        if code == _ADMITTED:
            self.journal.add(info.owner_id, info.plan_id, day, int(granted))
        first = int(used) - int(granted) + 1 if code == _ADMITTED else int(used)
        admission = Admission(
            admitted=code == _ADMITTED, used=first, limit=info.limit, revoked=code == _REVOKED, moved=code == _MOVED
        )
        return int(granted), admission

    async def give_back(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        await self._scripts.get().give_back(keys=[self.counter_key(info.owner_id, info.plan_id, day)], args=[count])
        self.journal.add(info.owner_id, info.plan_id, day, -count)

    def give_back_sync(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        self.sync.eval(_GIVE_BACK_LUA, 1, self.counter_key(info.owner_id, info.plan_id, day), count)
        self.journal.add(info.owner_id, info.plan_id, day, -count)

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        await self._scripts.get().refund(keys=[self.counter_key(info.owner_id, info.plan_id, day)])
        self.journal.add(info.owner_id, info.plan_id, day, -1)

    def pending_flush_sync(self) -> None:
        self.journal.flush_sync()

    def pending_discard(self) -> None:
        self.journal.discard()

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        return int(self.sync.get(self.counter_key(owner_id, plan_id, day)) or 0)

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        client = self._scripts.get().client
        return int(await client.get(self.counter_key(info.owner_id, info.plan_id, day)) or 0)

    def carry_over_sync(
        self, owner_id: int, from_plan_id: int, to_plan_id: int, day: datetime.date, key_id: int | None = None
    ) -> None:
        # Counters Redis lacks start from what the database recorded, as consume() does. Marking the
        # key's new plan and carrying the count is one atomic script: nothing slips in between.
        keys = [self.counter_key(owner_id, from_plan_id, day), self.counter_key(owner_id, to_plan_id, day)]
        if key_id is not None:
            keys.append(self.plan_key(key_id))
        self.journal.flush_sync()  # the journal carries over too, so it must be current first
        seeds = [_admitted_in_database(owner_id, plan_id, day) for plan_id in (from_plan_id, to_plan_id)]
        self.sync.eval(_CARRY_LUA, len(keys), *keys, *seeds, _COUNTER_TTL, to_plan_id)
        with connection.cursor() as cursor:
            cursor.execute(_CARRY_SQL, (to_plan_id, owner_id, from_plan_id, day))

    @staticmethod
    def tokens_key(owner_id: int, plan_id: int, day: datetime.date) -> str:
        return f"tollgate:tokens:{owner_id}:{plan_id}:{day.isoformat()}"

    def add_tokens_sync(self, owner_id: int, plan_id: int, day: datetime.date, tokens: int) -> int:
        # The database total is the truth; Redis keeps the highest total any process has written.
        total = super().add_tokens_sync(owner_id, plan_id, day, tokens)
        self.sync.eval(_RAISE_LUA, 1, self.tokens_key(owner_id, plan_id, day), total, _COUNTER_TTL)
        return total

    async def tokens_used(self, info: KeyInfo, day: datetime.date) -> int:
        raw = await self._scripts.get().client.get(self.tokens_key(info.owner_id, info.plan_id, day))
        if raw is not None:
            return int(raw)
        return await in_db_thread(self.tokens_used_sync, info.owner_id, info.plan_id, day)

    def revoke_sync(self, key_id: int) -> None:
        self.sync.set(self.revoked_key(key_id), 1)
