"""The door to request-time metering: who is calling, may they, and what it cost.

The gateway and the chat consumer call these functions, never the stores behind them.
"""

import dataclasses
import datetime
import logging

from keys.metering.keycache import key_authenticate, key_cache_forget, key_cache_forget_id, key_info_load
from keys.metering.leases import quota_leases
from keys.metering.quota import get_quota_store
from keys.metering.thresholds import THRESHOLDS, thresholds_note
from keys.metering.throttle import throttle_wait
from keys.metering.types import Admission, KeyInfo, RefusalCode, Verdict, seconds_until_reset, utc_today
from keys.metering.usage import usage_recorder
from plumbing.dbthread import in_db_thread

__all__ = [
    "Admission",
    "KeyInfo",
    "RefusalCode",
    "Verdict",
    "admit",
    "authenticate",
    "carry_over",
    "forget_key",
    "forget_pending",
    "quota_leases_give_back_all",
    "key_load",
    "record_usage",
    "refusal_record",
    "refund",
    "seconds_until_reset",
    "tokens_used",
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


async def admit(info: KeyInfo) -> Verdict:
    """Admit one request for the key (see _admit). A key that moved to another plan since its facts
    were cached is admitted by its new plan; the verdict then carries the fresh facts."""
    verdict = await _admit(info)
    if verdict.admission is None or not verdict.admission.moved:
        return verdict
    key_cache_forget_id(info.key_id)
    fresh = await key_load(info.key_id)
    if fresh is None:
        return Verdict(refusal=RefusalCode.REVOKED)
    return dataclasses.replace(await _admit(fresh), info=fresh)


async def _admit(info: KeyInfo) -> Verdict:
    """Throttle first (free), then the day's tokens (read, not spent), then spend one request.

    A refusal is not recorded here: the caller answers it and records it once (refusal_record).
    """
    if info.revoked:
        return Verdict(refusal=RefusalCode.REVOKED)
    if info.expired:
        return Verdict(refusal=RefusalCode.EXPIRED)
    day, store = utc_today(), get_quota_store()
    wait = await throttle_wait(info)
    if wait:
        return Verdict(refusal=RefusalCode.THROTTLE, retry_after=wait)
    tokens = None
    if info.token_limit:
        tokens = await store.tokens_used(info, day)
        if tokens >= info.token_limit:
            refused = Admission(False, 0, info.limit, tokens_used=tokens, token_limit=info.token_limit)
            return Verdict(admission=refused, refusal=RefusalCode.TOKENS, retry_after=seconds_until_reset())
    admission = await quota_leases.consume(store, info, day)
    if tokens is not None:
        admission = dataclasses.replace(admission, tokens_used=tokens, token_limit=info.token_limit)
    if admission.revoked:
        return Verdict(admission=admission, refusal=RefusalCode.REVOKED)
    if admission.moved:
        return Verdict(admission=admission, refusal=RefusalCode.REVOKED)  # admit() tries the new plan
    if not admission.admitted:
        return Verdict(admission=admission, refusal=RefusalCode.REQUESTS, retry_after=seconds_until_reset())
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


def refusal_record(info: KeyInfo, code: RefusalCode) -> None:
    """Count a refusal by a limit in today's statistics (within a second); other codes are not demand turned away."""
    if code in (RefusalCode.REQUESTS, RefusalCode.TOKENS, RefusalCode.THROTTLE):
        usage_recorder.refused(key_id=info.key_id, day=utc_today(), reason=code.value)


async def refund(info: KeyInfo) -> None:
    """Give back a request that admit() counted: the model did not answer it."""
    await quota_leases.refund(get_quota_store(), info, utc_today())


async def used(info: KeyInfo) -> int:
    """Requests counted today, without counting one more (this process's unspent lease aside)."""
    day = utc_today()
    return await get_quota_store().used(info, day) - quota_leases.unspent(info, day)


async def tokens_used(info: KeyInfo) -> int:
    """Tokens recorded today for the key's owner and plan (lagging answers by at most a second)."""
    return await get_quota_store().tokens_used(info, utc_today())


def used_sync(*, owner_id: int, plan_id: int, day: datetime.date | None = None) -> int:
    """used(), for pages and the admin."""
    return get_quota_store().used_sync(owner_id, plan_id, day or utc_today())


def carry_over(*, owner_id: int, key_id: int, from_plan_id: int, to_plan_id: int) -> None:
    """As a key moves between plans (after its save, in the same transaction): today's count in the new
    plan becomes at least the old one's, and the store refuses the old plan for this key from now on."""
    get_quota_store().carry_over_sync(owner_id, from_plan_id, to_plan_id, utc_today(), key_id=key_id)


def record_usage(info: KeyInfo, *, model: str = "", prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    """Add one answered request and its tokens to today's statistics and token total (within a second)."""
    usage_recorder.record(
        key_id=info.key_id,
        day=utc_today(),
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        owner_id=info.owner_id,
        plan_id=info.plan_id,
    )


def _tokens_recorded(totals: dict) -> None:
    """Runs on the database thread as usage is written: count tokens, and mail the thresholds passed."""
    from keys.models import Plan

    store, limits = get_quota_store(), {}
    for (owner_id, plan_id, key_id, day), tokens in totals.items():
        total = store.add_tokens_sync(owner_id, plan_id, day, tokens)
        if plan_id not in limits:
            limits[plan_id] = Plan.objects.filter(pk=plan_id).values_list("tokens_per_day", flat=True).first()
        thresholds_note(
            key_id=key_id, day=day, kind="tokens", before=total - tokens, after=total, limit=limits[plan_id]
        )


usage_recorder.on_tokens = _tokens_recorded


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
