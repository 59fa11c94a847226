"""The door to request-time metering: who is calling, may they, and what it cost.

The gateway and the chat consumer call these functions, never the stores behind them.
"""

import asyncio
import dataclasses
import datetime
import logging

from keys.metering.keycache import key_authenticate, key_cache_forget, key_cache_forget_id, key_info_load
from keys.metering.keycap import key_cap_give, key_cap_take, key_cap_used_sync
from keys.metering.leases import quota_leases
from keys.metering.quota import get_quota_store
from keys.metering.spool import spool as process_spool
from keys.metering.spool import spool_close
from keys.metering.thresholds import THRESHOLDS, thresholds_note
from keys.metering.throttle import throttle_wait
from keys.metering.types import (
    NOTHING,
    Admission,
    KeyInfo,
    RefusalCode,
    Reservation,
    Verdict,
    seconds_until_reset,
    utc_today,
)
from keys.metering.usage import usage_recorder
from keys.periods import period_current, seconds_until
from plumbing.dbthread import in_db_thread

__all__ = [
    "NOTHING",
    "Admission",
    "KeyInfo",
    "PeriodCounts",
    "RefusalCode",
    "Reservation",
    "Verdict",
    "admit",
    "counts",
    "counts_sync",
    "settle",
    "settlements_wait",
    "authenticate",
    "call_began",
    "carry_over",
    "carry_over_period",
    "forget_key",
    "forget_pending",
    "quota_leases_give_back_all",
    "key_load",
    "record_usage",
    "reserve_more",
    "refusal_record",
    "refund",
    "seconds_until_reset",
    "spool_close",
    "used",
    "usage_flush",
    "used_sync",
    "utc_today",
]

logger = logging.getLogger(__name__)


async def authenticate(raw: str) -> KeyInfo | None:
    """The key's facts if `raw` is a well-formed, known, unrevoked key; None otherwise.
    An expired key's facts come back with `expired` true: callers refuse it, saying why."""
    return await key_authenticate(raw)


async def key_load(key_id: int) -> KeyInfo | None:
    """A key's facts by id, for callers that already know whose key it is (the chat page)."""
    return await in_db_thread(lambda: key_info_load(key_id=key_id))


async def admit(info: KeyInfo, reservation: Reservation = NOTHING) -> Verdict:
    """Admit one request for the key (see _admit). A key that moved to another plan since its facts
    were cached is admitted by its new plan; the verdict then carries the fresh facts.

    `reservation` is the most the call may cost in tokens and money. It is held only by plans that
    limit either (KeyInfo.reserves), and must be settled (settle) or given back (refund)."""
    verdict = await _admit(info, reservation)
    if verdict.admission is None or not verdict.admission.moved:
        return verdict
    key_cache_forget_id(info.key_id)
    fresh = await key_load(info.key_id)
    if fresh is None:
        return Verdict(refusal=RefusalCode.REVOKED)
    return dataclasses.replace(await _admit(fresh, reservation), info=fresh)


async def _admit(info: KeyInfo, reservation: Reservation) -> Verdict:
    """Throttle first (free), then count one request and, for plans that limit them, hold the call's
    tokens and money, all in one atomic step.

    A refusal is not recorded here: the caller answers it and records it once (refusal_record).
    """
    if info.revoked:
        return Verdict(refusal=RefusalCode.REVOKED)
    if info.expired:
        return Verdict(refusal=RefusalCode.EXPIRED)
    (day, reset_at), store = info.period_now(), get_quota_store()
    wait = await throttle_wait(info)
    if wait:
        return Verdict(refusal=RefusalCode.THROTTLE, retry_after=wait)
    capped = None
    if info.max_requests is not None:
        capped = await key_cap_take(info, day)
        if not capped.admitted:
            capped = dataclasses.replace(capped, reset_at=reset_at, period=day)
            return Verdict(admission=capped, refusal=RefusalCode.KEY_REQUESTS, retry_after=seconds_until(reset_at))
    try:
        if info.reserves:
            admission = await quota_leases.reserve(store, info, day, reservation)
        else:
            admission = await quota_leases.consume(store, info, day)
    except BaseException:
        if capped is not None:
            await key_cap_give(info, day)
        raise
    if capped is not None and not admission.admitted:
        await key_cap_give(info, day)
    elif capped is not None and capped.remaining < admission.remaining:
        admission = dataclasses.replace(admission, used=capped.used, limit=capped.limit)  # headers show the tighter
    admission = dataclasses.replace(admission, reset_at=reset_at, period=day)
    if admission.revoked:
        return Verdict(admission=admission, refusal=RefusalCode.REVOKED)
    if admission.moved:
        return Verdict(admission=admission, refusal=RefusalCode.REVOKED)  # admit() tries the new plan
    if not admission.admitted:
        code = {"tokens": RefusalCode.TOKENS, "budget": RefusalCode.BUDGET}.get(admission.short, RefusalCode.REQUESTS)
        return Verdict(admission=admission, refusal=code, retry_after=seconds_until(reset_at))
    if admission.used * 100 >= THRESHOLDS[0] * admission.limit:
        thresholds_note(
            key_id=info.key_id,
            day=day,
            kind="requests",
            before=admission.used - 1,
            after=admission.used,
            limit=admission.limit,
        )
    return Verdict(admission=admission)


async def reserve_more(info: KeyInfo, reservation: Reservation) -> Verdict:
    """Top up an admitted call's reservation (no further request), once its whole prompt is known."""
    (day, reset_at), store = info.period_now(), get_quota_store()
    admission = await store.reserve(info, day, reservation, requests=0)
    admission = dataclasses.replace(admission, reset_at=reset_at, period=day)
    if admission.admitted:
        return Verdict(admission=admission)
    if admission.revoked or admission.moved:
        return Verdict(admission=admission, refusal=RefusalCode.REVOKED)
    code = {"tokens": RefusalCode.TOKENS, "budget": RefusalCode.BUDGET}.get(admission.short, RefusalCode.REQUESTS)
    return Verdict(admission=admission, refusal=code, retry_after=seconds_until(reset_at))


_DEMAND = (RefusalCode.REQUESTS, RefusalCode.TOKENS, RefusalCode.THROTTLE, RefusalCode.BUDGET, RefusalCode.KEY_REQUESTS)


def refusal_record(info: KeyInfo, code: RefusalCode) -> None:
    """Count a refusal by a limit in today's statistics (within a second); other codes are not demand turned away."""
    if code in _DEMAND:
        usage_recorder.refused(key_id=info.key_id, day=utc_today(), reason=code.value)


async def refund(
    info: KeyInfo, reservation: Reservation = NOTHING, period: datetime.date | None = None, call: int = 0
) -> None:
    """Give back a request that admit() counted, and what it reserved: the model did not answer it.
    `period`: the admission's (a call may end after its period did); default the current one.
    `call`: its id from call_began."""
    process_spool.call_refunded(call)
    day = period or info.period_now()[0]
    if info.reserves:
        await quota_leases.unreserve(get_quota_store(), info, day, reservation)
    else:
        await quota_leases.refund(get_quota_store(), info, day)
    if info.max_requests is not None:
        await key_cap_give(info, day)


async def used(info: KeyInfo) -> int:
    """Requests counted this period, without counting one more (this process's unspent lease aside)."""
    day, _ = info.period_now()
    return await get_quota_store().used(info, day) - quota_leases.unspent(info, day)


@dataclasses.dataclass(frozen=True, slots=True)
class PeriodCounts:
    """What a key's owner has used of a plan this period: requests, tokens and nanos (in flight included)."""

    start: datetime.date
    reset_at: datetime.datetime
    used: int
    tokens: int
    nanos: int
    key_used: int | None = None  # the key's own count, for a key with a cap of its own


async def counts(info: KeyInfo) -> PeriodCounts:
    """The period's counts for the key's owner and plan, read now from the store every process shares."""
    day, reset_at = info.period_now()
    store = get_quota_store()
    tokens, nanos = await store.totals(info, day)
    requests = await store.used(info, day) - quota_leases.unspent(info, day)
    key_used = await in_db_thread(key_cap_used_sync, info.key_id, day) if info.max_requests is not None else None
    return PeriodCounts(day, reset_at, max(requests, 0), tokens, nanos, key_used)


def counts_sync(*, owner_id: int, plan) -> PeriodCounts:
    """counts(), for pages and the admin: `plan` is a Plan."""
    day, reset_at = period_current(plan.period, plan.time_zone)
    store = get_quota_store()
    tokens, nanos = store.totals_sync(owner_id, plan.pk, day)
    return PeriodCounts(day, reset_at, store.used_sync(owner_id, plan.pk, day), tokens, nanos)


def used_sync(*, owner_id: int, plan) -> int:
    """Requests counted this period in `plan` (a Plan), for pages and the admin."""
    day, _ = period_current(plan.period, plan.time_zone)
    return get_quota_store().used_sync(owner_id, plan.pk, day)


def carry_over(*, owner_id: int, key_id: int, from_plan, to_plan) -> None:
    """As a key moves between plans (Plans; after its save, in the same transaction): the new plan's
    period counts become at least the old one's (requests, tokens and spend), and the store refuses
    the old plan for this key from now on."""
    from_day, _ = period_current(from_plan.period, from_plan.time_zone)
    to_day, _ = period_current(to_plan.period, to_plan.time_zone)
    get_quota_store().carry_over_sync(owner_id, from_plan.pk, to_plan.pk, from_day, to_day, key_id=key_id)


def carry_over_period(*, owner_id: int, plan_id: int, from_day: datetime.date, to_day: datetime.date) -> None:
    """A plan's period changed: the owner's counts in the period from `from_day` carry into `to_day`'s."""
    get_quota_store().carry_over_sync(owner_id, plan_id, plan_id, from_day, to_day)


def call_began(info: KeyInfo, model: str) -> int:
    """An admitted call starts: its id, for settle() or record_usage() or refund(), which end it. A
    process killed before then has it counted in the statistics by whoever replays its spool."""
    return process_spool.call_began(info.key_id, utc_today(), model)


def record_usage(
    info: KeyInfo,
    *,
    model: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    nanos: int = 0,
    period: datetime.date | None = None,
    call: int = 0,
) -> None:
    """Add one answered request, its tokens and its cost to today's statistics and, for plans that do
    not reserve, to the period's totals (within a second). Plans that reserve use settle()."""
    usage_recorder.record(
        key_id=info.key_id,
        day=utc_today(),
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        nanos=nanos,
        owner_id=info.holder_id,
        plan_id=info.plan_id,
        period=None if info.reserves else period or info.period_now()[0],
        call=call,
    )


_settling: set[asyncio.Task] = set()
SETTLE_TRIES = 30


def settle(
    info: KeyInfo,
    reservation: Reservation,
    *,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    nanos: int,
    period: datetime.date | None = None,
    call: int = 0,
) -> None:
    """The call was answered: record it, and turn its reservation into what it cost (`nanos`; tokens
    and cost never above what was reserved), in `period` (the admission's; default the current one).
    The store's part runs as a task: settle never waits."""
    day = period or info.period_now()[0]
    record_usage(
        info,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        nanos=nanos,
        period=day,
        call=call,
    )
    if not info.reserves:
        return
    tokens_back = (prompt_tokens + completion_tokens) - reservation.tokens
    nanos_back = nanos - reservation.nanos
    if not (tokens_back or nanos_back) or quota_leases.settle_into(info, day, tokens_back, nanos_back):
        return  # it cost what it reserved, or its lease takes the difference back
    task = asyncio.get_running_loop().create_task(_settle(info, day, tokens_back, nanos_back, reservation))
    _settling.add(task)
    task.add_done_callback(_settling.discard)


async def _settle(info: KeyInfo, day: datetime.date, tokens: int, nanos: int, reservation: Reservation) -> None:
    for attempt in range(SETTLE_TRIES):
        try:
            tokens_total, nanos_total = await get_quota_store().settle(info, day, tokens, nanos)
            break
        except Exception as exc:
            # Until it lands, the period holds the whole reservation: stricter, never past a limit.
            if attempt == SETTLE_TRIES - 1:
                logger.error(
                    "could not settle a call of key %s; it stays charged its reservation: %s", info.key_id, exc
                )
                return
            await asyncio.sleep(1.0)
    if tokens_total < 0:  # Redis lacked the counter: the journal settles it
        return
    for kind, total, used, limit in (
        ("tokens", tokens_total, reservation.tokens + tokens, info.token_limit),
        ("budget", nanos_total, reservation.nanos + nanos, info.budget_nanos),
    ):
        thresholds_note(key_id=info.key_id, day=day, kind=kind, before=total - used, after=total, limit=limit)


async def settlements_wait() -> None:
    """Wait for every settlement this process started (tests, shutdown)."""
    while _settling:
        await asyncio.gather(*list(_settling), return_exceptions=True)


def _usage_recorded(totals: dict) -> None:
    """Runs on the database thread as usage is written: count tokens and money of plans that do not
    reserve, and mail the token thresholds passed."""
    from keys.models import Plan

    store, limits = get_quota_store(), {}
    for (owner_id, plan_id, key_id, day), (tokens, nanos) in totals.items():
        total, _ = store.add_usage_sync(owner_id, plan_id, day, tokens, nanos)
        if plan_id not in limits:
            limits[plan_id] = Plan.objects.filter(pk=plan_id).values_list("tokens_per_day", flat=True).first()
        thresholds_note(
            key_id=key_id, day=day, kind="tokens", before=total - tokens, after=total, limit=limits[plan_id]
        )


usage_recorder.on_tokens = _usage_recorded


def usage_flush() -> None:
    """Write the statistics and admissions this process holds now (at exit)."""
    usage_recorder.flush_sync()
    get_quota_store().pending_flush_sync()


def quota_leases_give_back_all() -> None:
    """Hand back every unspent leased request (at exit)."""
    quota_leases.give_back_all_sync()


def forget_pending() -> None:
    """Drop unwritten statistics and this process's leases without writing or handing back (tests)."""
    usage_recorder.discard()
    quota_leases.discard()
    get_quota_store().pending_discard()


def forget_key(*, key_id: int, prefix: str) -> None:
    """After a revocation commits: drop this process's cached copy and tell the quota store."""
    key_cache_forget(prefix)
    try:
        store = get_quota_store()
        quota_leases.forget_sync(store, key_id)
        store.revoke_sync(key_id)
    except Exception:
        # The revocation is committed; other processes drop their cached copy within seconds.
        logger.exception("could not mark key %s revoked in the quota store", key_id)
