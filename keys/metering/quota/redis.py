"""Quotas in Redis: counters changed by Lua scripts, which Redis runs atomically."""

import datetime

import redis
from django.db import connection
from django.db.models import Sum

from keys.metering.quota.base import BaseQuotaStore
from keys.metering.quota.database import CARRY_SQL
from keys.metering.quota.journal import AdmissionJournal, journal_totals, journal_used
from keys.metering.types import Admission, KeyInfo, Reservation
from keys.models import DailyUsage, holder_keys
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
# Counters, tokens and nanos of the old plan's period carried into the new one's, never lowering any.
# KEYS: (from, to) for requests, tokens, nanos, then the key's plan marker; ARGV: their seeds, ttl, plan.
_CARRY_LUA = """
if KEYS[7] then redis.call('SET', KEYS[7], ARGV[8]) end
for i = 0, 2 do
  local from = math.max(tonumber(redis.call('GET', KEYS[2*i+1]) or '0'), tonumber(ARGV[2*i+1]))
  local to = tonumber(redis.call('GET', KEYS[2*i+2]) or ARGV[2*i+2])
  if from > to then to = from end
  redis.call('SET', KEYS[2*i+2], string.format('%d', to), 'EX', ARGV[7])
end
return 0
"""
_RAISE_LUA = """
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '-1')
  if tonumber(ARGV[i]) > current then redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[#KEYS + 1]) end
end
return 0
"""
# KEYS: requests, revoked, key's plan, tokens, nanos. ARGV: limit, ttl, seed requests ('' unknown), plan id,
# token limit (-1 none), tokens, budget (-1 none), nanos, seed tokens, seed nanos, requests (1, or 0 to top up).
_RESERVE_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0, 0, 0} end
local plan = redis.call('GET', KEYS[3])
if plan and plan ~= ARGV[4] then return {-3, 0, 0, 0} end
local raw, rawt, rawn = redis.call('GET', KEYS[1]), redis.call('GET', KEYS[4]), redis.call('GET', KEYS[5])
if not raw or not rawt or not rawn then
  if ARGV[3] == '' then return {-2, 0, 0, 0} end
  redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[2])
  redis.call('SET', KEYS[4], ARGV[9], 'NX', 'EX', ARGV[2])
  redis.call('SET', KEYS[5], ARGV[10], 'NX', 'EX', ARGV[2])
  raw, rawt, rawn = redis.call('GET', KEYS[1]), redis.call('GET', KEYS[4]), redis.call('GET', KEYS[5])
end
local used, tokens, nanos = tonumber(raw), tonumber(rawt), tonumber(rawn)
local count = tonumber(ARGV[11])
if used + count > tonumber(ARGV[1]) then return {0, used, tokens, nanos} end
local token_limit, budget = tonumber(ARGV[5]), tonumber(ARGV[7])
if token_limit >= 0 and tokens + tonumber(ARGV[6]) > token_limit then return {-4, used, tokens, nanos} end
if budget >= 0 and nanos + tonumber(ARGV[8]) > budget then return {-5, used, tokens, nanos} end
local after = redis.call('INCRBY', KEYS[1], count)
return {1, after, redis.call('INCRBY', KEYS[4], ARGV[6]), redis.call('INCRBY', KEYS[5], ARGV[8])}
"""
# Add (or, negative, take back) amounts to existing counters, never below zero; a counter Redis lacks is
# left to be seeded from the journal, which has the same change.
_ADJUST_LUA = """
local out = {}
for i = 1, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local value = tonumber(raw) + tonumber(ARGV[i])
    if value < 0 then value = 0 end
    redis.call('SET', KEYS[i], string.format('%d', value), 'KEEPTTL')
    out[i] = value
  else
    out[i] = -1
  end
end
return out
"""
_COUNTER_TTL = 35 * 24 * 3600  # outlives any period; counters Redis lacks are seeded from the database
_PERIOD_TTL = {"day": 3 * 24 * 3600, "week": 10 * 24 * 3600, "month": _COUNTER_TTL}


def _ttl(info: KeyInfo) -> int:
    """How long a period's counters stay in Redis: past the period's end, never for good."""
    return _PERIOD_TTL.get(info.period, _COUNTER_TTL)


_SHORT_BUDGET, _SHORT_TOKENS, _MOVED, _UNSEEDED, _REVOKED, _ADMITTED = -5, -4, -3, -2, -1, 1


def _admitted_in_database(owner_id: int, plan_id: int, day: datetime.date) -> int:
    """Where a counter Redis lacks starts: the journal's admissions (in flight included), and never
    below the answers recorded since the period began for keys now in the plan."""
    usage = DailyUsage.objects.filter(holder_keys(owner_id), key__plan_id=plan_id, day__gte=day)
    return max(journal_used(owner_id, plan_id, day), usage.aggregate(total=Sum("requests"))["total"] or 0)


def _seeds(owner_id: int, plan_id: int, day: datetime.date) -> tuple[int, int, int]:
    """Where the requests, tokens and nanos counters Redis lacks start (database thread)."""
    return (_admitted_in_database(owner_id, plan_id, day), *journal_totals(owner_id, plan_id, day))


class _Scripts:
    def __init__(self, url: str) -> None:
        self.client = redis_client(url)
        self.consume = self.client.register_script(_CONSUME_LUA)
        self.refund = self.client.register_script(_REFUND_LUA)
        self.take = self.client.register_script(_TAKE_LUA)
        self.give_back = self.client.register_script(_GIVE_BACK_LUA)
        self.reserve = self.client.register_script(_RESERVE_LUA)
        self.adjust = self.client.register_script(_ADJUST_LUA)


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
            self.counter_key(info.holder_id, info.plan_id, day),
            self.revoked_key(info.key_id),
            self.plan_key(info.key_id),
        ]

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        keys, script = self._keys(info, day), self._scripts.get().consume
        code, used = await script(keys=keys, args=[info.limit, _ttl(info), "", info.plan_id])
        if code == _UNSEEDED:
            seed = await in_db_thread(_admitted_in_database, info.holder_id, info.plan_id, day)
            code, used = await script(keys=keys, args=[info.limit, _ttl(info), seed, info.plan_id])
        if code == _ADMITTED:
            self.journal.add(info.holder_id, info.plan_id, day, 1)
        return Admission(
            admitted=code == _ADMITTED, used=int(used), limit=info.limit, revoked=code == _REVOKED, moved=code == _MOVED
        )

    async def take(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        keys, script = self._keys(info, day), self._scripts.get().take
        code, used, granted = await script(keys=keys, args=[info.limit, _ttl(info), "", wanted, info.plan_id])
        if code == _UNSEEDED:
            seed = await in_db_thread(_admitted_in_database, info.holder_id, info.plan_id, day)
            code, used, granted = await script(keys=keys, args=[info.limit, _ttl(info), seed, wanted, info.plan_id])
        if code == _ADMITTED:
            self.journal.add(info.holder_id, info.plan_id, day, int(granted))
        first = int(used) - int(granted) + 1 if code == _ADMITTED else int(used)
        admission = Admission(
            admitted=code == _ADMITTED, used=first, limit=info.limit, revoked=code == _REVOKED, moved=code == _MOVED
        )
        return int(granted), admission

    async def give_back(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        await self._scripts.get().give_back(keys=[self.counter_key(info.holder_id, info.plan_id, day)], args=[count])
        self.journal.add(info.holder_id, info.plan_id, day, -count)

    def give_back_sync(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        self.sync.eval(_GIVE_BACK_LUA, 1, self.counter_key(info.holder_id, info.plan_id, day), count)
        self.journal.add(info.holder_id, info.plan_id, day, -count)

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        await self._scripts.get().refund(keys=[self.counter_key(info.holder_id, info.plan_id, day)])
        self.journal.add(info.holder_id, info.plan_id, day, -1)

    def pending_flush_sync(self) -> None:
        self.journal.flush_sync()

    def pending_discard(self) -> None:
        self.journal.discard()

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        return int(self.sync.get(self.counter_key(owner_id, plan_id, day)) or 0)

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        client = self._scripts.get().client
        return int(await client.get(self.counter_key(info.holder_id, info.plan_id, day)) or 0)

    def carry_over_sync(
        self,
        owner_id: int,
        from_plan_id: int,
        to_plan_id: int,
        from_day: datetime.date,
        to_day: datetime.date,
        key_id: int | None = None,
    ) -> None:
        # Counters Redis lacks start from what the database recorded, as consume() does. Marking the
        # key's new plan and carrying the counts is one atomic script: nothing slips in between.
        ends = [(from_plan_id, from_day), (to_plan_id, to_day)]
        keys = [self.counter_key(owner_id, *end) for end in ends]
        keys += [self.tokens_key(owner_id, *end) for end in ends]
        keys += [self.nanos_key(owner_id, *end) for end in ends]
        if key_id is not None:
            keys.append(self.plan_key(key_id))
        self.journal.flush_sync()  # the journal carries over too, so it must be current first
        totals = [journal_totals(owner_id, *end) for end in ends]
        seeds = [_admitted_in_database(owner_id, *end) for end in ends]
        seeds += [total[0] for total in totals] + [total[1] for total in totals]
        self.sync.eval(_CARRY_LUA, len(keys), *keys, *seeds, _COUNTER_TTL, to_plan_id)
        with connection.cursor() as cursor:
            cursor.execute(CARRY_SQL, (to_plan_id, to_day, owner_id, from_plan_id, from_day))

    @staticmethod
    def tokens_key(owner_id: int, plan_id: int, day: datetime.date) -> str:
        return f"tollgate:tokens:{owner_id}:{plan_id}:{day.isoformat()}"

    @staticmethod
    def nanos_key(owner_id: int, plan_id: int, day: datetime.date) -> str:
        return f"tollgate:nanos:{owner_id}:{plan_id}:{day.isoformat()}"

    def add_usage_sync(
        self, owner_id: int, plan_id: int, day: datetime.date, tokens: int, nanos: int
    ) -> tuple[int, int]:
        # The database totals are the truth; Redis keeps the highest totals any process has written.
        totals = super().add_usage_sync(owner_id, plan_id, day, tokens, nanos)
        keys = [self.tokens_key(owner_id, plan_id, day), self.nanos_key(owner_id, plan_id, day)]
        self.sync.eval(_RAISE_LUA, 2, *keys, *totals, _COUNTER_TTL)
        return totals

    def totals_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> tuple[int, int]:
        tokens, nanos = self.sync.mget(self.tokens_key(owner_id, plan_id, day), self.nanos_key(owner_id, plan_id, day))
        if tokens is not None and nanos is not None:
            return int(tokens), int(nanos)
        return super().totals_sync(owner_id, plan_id, day)

    async def totals(self, info: KeyInfo, day: datetime.date) -> tuple[int, int]:
        keys = (self.tokens_key(info.holder_id, info.plan_id, day), self.nanos_key(info.holder_id, info.plan_id, day))
        tokens, nanos = await self._scripts.get().client.mget(*keys)
        if tokens is not None and nanos is not None:
            return int(tokens), int(nanos)
        return await in_db_thread(super().totals_sync, info.holder_id, info.plan_id, day)

    def _reserve_keys(self, info: KeyInfo, day: datetime.date) -> list[str]:
        return [
            *self._keys(info, day),
            self.tokens_key(info.holder_id, info.plan_id, day),
            self.nanos_key(info.holder_id, info.plan_id, day),
        ]

    async def reserve(
        self, info: KeyInfo, day: datetime.date, reservation: Reservation, requests: int = 1
    ) -> Admission:
        keys, script = self._reserve_keys(info, day), self._scripts.get().reserve
        token_limit = -1 if info.token_limit is None else info.token_limit
        budget = -1 if info.budget_nanos is None else info.budget_nanos
        args = [info.limit, _ttl(info), "", info.plan_id, token_limit, reservation.tokens, budget, reservation.nanos]
        code, used, tokens, nanos = await script(keys=keys, args=[*args, 0, 0, requests])
        if code == _UNSEEDED:
            seed = await in_db_thread(_seeds, info.holder_id, info.plan_id, day)
            args[2] = seed[0]
            code, used, tokens, nanos = await script(keys=keys, args=[*args, seed[1], seed[2], requests])
        if code == _ADMITTED:
            self.journal.add(info.holder_id, info.plan_id, day, requests, reservation.tokens, reservation.nanos)
        short = {_SHORT_TOKENS: "tokens", _SHORT_BUDGET: "budget"}.get(code, "")
        return Admission(
            admitted=code == _ADMITTED,
            used=int(used),
            limit=info.limit,
            revoked=code == _REVOKED,
            moved=code == _MOVED,
            tokens_used=int(tokens) if info.token_limit is not None else None,
            token_limit=info.token_limit,
            spent_nanos=int(nanos) if info.budget_nanos is not None else None,
            budget_nanos=info.budget_nanos,
            short=short,
        )

    async def settle(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        keys = [self.tokens_key(info.holder_id, info.plan_id, day), self.nanos_key(info.holder_id, info.plan_id, day)]
        totals = await self._scripts.get().adjust(keys=keys, args=[tokens, nanos])
        self.journal.add(info.holder_id, info.plan_id, day, 0, tokens, nanos)
        return int(totals[0]), int(totals[1])

    def settle_sync(self, info: KeyInfo, day: datetime.date, tokens: int, nanos: int) -> tuple[int, int]:
        keys = [self.tokens_key(info.holder_id, info.plan_id, day), self.nanos_key(info.holder_id, info.plan_id, day)]
        totals = self.sync.eval(_ADJUST_LUA, 2, *keys, tokens, nanos)
        self.journal.add(info.holder_id, info.plan_id, day, 0, tokens, nanos)
        return int(totals[0]), int(totals[1])

    async def unreserve(self, info: KeyInfo, day: datetime.date, reservation: Reservation) -> None:
        keys = self._reserve_keys(info, day)
        keys = [keys[0], keys[3], keys[4]]
        await self._scripts.get().adjust(keys=keys, args=[-1, -reservation.tokens, -reservation.nanos])
        self.journal.add(info.holder_id, info.plan_id, day, -1, -reservation.tokens, -reservation.nanos)

    def revoke_sync(self, key_id: int) -> None:
        self.sync.set(self.revoked_key(key_id), 1)
