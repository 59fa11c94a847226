"""Keys checked at request time: one indexed query on the prefix, cached briefly, then a constant-time compare."""

import asyncio
import time

from keys.crypto import key_parse, key_verify
from keys.metering.types import KeyInfo
from keys.models import ApiKey
from keys.scopes import networks_parse
from plumbing.dbthread import in_db_thread

# Immutable facts (id, hash) never change; plan limits and revocation may, so entries live briefly.
# The consume step re-reads revocation and the limit live, so a revoked key is refused at once.
CACHE_SECONDS = 1.0  # scopes and team removals reach every process within this
_MAX_ENTRIES = 50_000
_key_cache: dict[str, tuple[float, KeyInfo | None]] = {}
_loading: dict[str, asyncio.Future] = {}  # one database read per prefix, however many ask at once


def key_info_load(*, prefix: str | None = None, key_id: int | None = None) -> KeyInfo | None:
    query = ApiKey.objects.select_related("plan")
    key = query.filter(prefix=prefix).first() if prefix is not None else query.filter(pk=key_id).first()
    if key is None:
        return None
    plan = key.plan
    return KeyInfo(
        key_id=key.pk,
        owner_id=key.owner_id,
        plan_id=plan.pk,
        plan_name=plan.name,
        limit=plan.requests_per_day,
        throttle_rate=plan.throttle_rate,
        throttle_burst=plan.throttle_burst,
        hashed_secret=key.hashed_secret,
        revoked=key.revoked_at is not None,
        expires_at=key.expires_at.timestamp() if key.expires_at else None,
        token_limit=plan.tokens_per_day,
        public_prefix=key.public_prefix,
        period=plan.period,
        time_zone=plan.time_zone,
        budget_nanos=plan.budget_nanos,
        team_id=key.team_id,
        allowed_ips=networks_parse(key.allowed_ips),
        allowed_models=frozenset(key.allowed_models or ()),
        max_requests=key.max_requests,
    )


def _load_by_prefix(prefix: str) -> KeyInfo | None:
    return key_info_load(prefix=prefix)


async def key_authenticate(raw: str) -> KeyInfo | None:
    """The key's facts if `raw` is a well-formed, known, unrevoked key; None otherwise.
    An expired key's facts are returned: callers tell the user it expired."""
    parsed = key_parse(raw)
    if parsed is None:  # mistyped or made up: refused without touching the database
        return None
    now = time.monotonic()
    cached = _key_cache.get(parsed.prefix)
    if cached is not None and cached[0] > now:
        info = cached[1]
    else:
        info = await _load_once(parsed.prefix, now)
    if info is None or info.revoked or not key_verify(raw, info.hashed_secret):
        return None
    return info


async def _load_once(prefix: str, now: float) -> KeyInfo | None:
    pending = _loading.get(prefix)
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():
        return await asyncio.shield(pending)
    future = asyncio.get_running_loop().create_future()
    _loading[prefix] = future
    try:
        info = await in_db_thread(_load_by_prefix, prefix)
    except BaseException as exc:
        if isinstance(exc, Exception):
            future.set_exception(exc)
            future.exception()  # marked as retrieved: the waiters re-raise it, nobody else need
        else:
            future.cancel()
        raise
    finally:
        if _loading.get(prefix) is future:
            del _loading[prefix]
    if len(_key_cache) > _MAX_ENTRIES:
        _key_cache.clear()
    _key_cache[prefix] = (now + CACHE_SECONDS, info)
    future.set_result(info)
    return info


def key_cache_forget(prefix: str) -> None:
    _key_cache.pop(prefix, None)


def key_cache_forget_id(key_id: int) -> None:
    """Forget a key known only by id (rare: it moved plans under a cached copy)."""
    for prefix in [p for p, (_, info) in _key_cache.items() if info is not None and info.key_id == key_id]:
        _key_cache.pop(prefix, None)
