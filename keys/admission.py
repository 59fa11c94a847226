"""The gateway's checks, in order: key, throttle, daily quota. Shared by /v1, /query and the chat page."""

import time
from dataclasses import dataclass

from keys.crypto import key_parse, key_verify
from keys.dbthread import in_db_thread
from keys.models import ApiKey
from keys.quota import Admission, KeyInfo, get_quota_store, utc_today
from keys.throttle import throttle_wait

# Immutable facts (id, hash) never change; plan limits and revocation may, so entries live briefly.
# The consume step re-reads revocation and the limit live, so a revoked key is refused at once.
CACHE_SECONDS = 2.0
_key_cache: dict[str, tuple[float, KeyInfo | None]] = {}


def key_info_load(prefix: str | None = None, key_id: int | None = None) -> KeyInfo | None:
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
    )


async def key_authenticate(raw: str) -> KeyInfo | None:
    """The key's facts if `raw` is a well-formed, known, active key; None otherwise."""
    parsed = key_parse(raw)
    if parsed is None:  # mistyped or made up: refused without touching the database
        return None
    now = time.monotonic()
    cached = _key_cache.get(parsed.prefix)
    if cached is not None and cached[0] > now:
        info = cached[1]
    else:
        info = await in_db_thread(key_info_load, parsed.prefix)
        if len(_key_cache) > 50_000:
            _key_cache.clear()
        _key_cache[parsed.prefix] = (now + CACHE_SECONDS, info)
    if info is None or info.revoked or not key_verify(raw, info.hashed_secret):
        return None
    return info


def key_cache_forget(prefix: str) -> None:
    _key_cache.pop(prefix, None)


async def quota_consume(info: KeyInfo) -> Admission:
    return await get_quota_store().consume(info, utc_today())


async def quota_used(info: KeyInfo) -> int:
    """Requests counted today, without counting one more."""
    return await get_quota_store().used(info, utc_today())


async def quota_refund(info: KeyInfo) -> None:
    await get_quota_store().refund(info, utc_today())


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of admitting one request: exactly one of the flags describes a refusal."""

    admission: Admission | None = None
    throttled_for: float = 0.0
    revoked: bool = False

    @property
    def admitted(self) -> bool:
        return self.admission is not None and self.admission.admitted


async def request_admit(info: KeyInfo) -> Verdict:
    """Throttle first (free), then spend one request of the day's quota."""
    wait = await throttle_wait(info)
    if wait:
        return Verdict(throttled_for=wait)
    admission = await quota_consume(info)
    return Verdict(admission=admission, revoked=admission.revoked)
