"""The door to request-time metering: who is calling, may they, and what it cost.

The gateway and the chat consumer call these functions, never the stores behind them.
"""

import datetime
import logging

from keys.metering.dbthread import in_db_thread
from keys.metering.keycache import key_authenticate, key_cache_forget, key_info_load
from keys.metering.leases import quota_leases
from keys.metering.quota import get_quota_store
from keys.metering.throttle import throttle_wait
from keys.metering.types import Admission, KeyInfo, Verdict, seconds_until_reset, utc_today
from keys.metering.usage import usage_recorder

__all__ = [
    "Admission",
    "KeyInfo",
    "Verdict",
    "admit",
    "authenticate",
    "carry_over",
    "forget_key",
    "key_load",
    "record_usage",
    "refund",
    "seconds_until_reset",
    "used",
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
    """Throttle first (free), then spend one request of the day's quota."""
    wait = await throttle_wait(info)
    if wait:
        return Verdict(throttled_for=wait)
    admission = await quota_leases.consume(get_quota_store(), info, utc_today())
    return Verdict(admission=admission, revoked=admission.revoked)


async def refund(info: KeyInfo) -> None:
    """Give back a request that admit() counted: the model did not answer it."""
    await quota_leases.refund(get_quota_store(), info, utc_today())


async def used(info: KeyInfo) -> int:
    """Requests counted today, without counting one more (this process's unspent lease aside)."""
    day = utc_today()
    return await get_quota_store().used(info, day) - quota_leases.unspent(info, day)


def used_sync(*, owner_id: int, plan_id: int, day: datetime.date | None = None) -> int:
    """used(), for pages and the admin."""
    return get_quota_store().used_sync(owner_id, plan_id, day or utc_today())


def carry_over(*, owner_id: int, from_plan_id: int, to_plan_id: int) -> None:
    """Before a key moves between plans: today's count in the new plan becomes at least the old one's."""
    get_quota_store().carry_over_sync(owner_id, from_plan_id, to_plan_id, utc_today())


def record_usage(info: KeyInfo, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    """Add one answered request and its tokens to today's statistics (written within a second)."""
    usage_recorder.record(
        key_id=info.key_id, day=utc_today(), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


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
