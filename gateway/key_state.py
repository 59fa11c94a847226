"""GET /v1/key: what the calling key has left this period, asked with the key itself and never charged."""

import datetime
import logging

from gateway.calls import key_models
from gateway.catalogue import catalogue
from gateway.http import Receive, Scope, Send, send_json
from gateway.refusals import authenticate, ratelimit_headers, send_unavailable
from gateway.upstreams import default_model
from keys import metering
from keys.app_settings import app_settings as keys_settings
from keys.metering import KeyInfo, PeriodCounts
from keys.money import money_text
from keys.periods import seconds_until

logger = logging.getLogger(__name__)


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(limit - used, 0)


def key_state_body(info: KeyInfo, counts: PeriodCounts, models: list[str]) -> dict:
    """The key's period as OpenRouter's GET /api/v1/key tells it: limits, use and what is left."""
    budget = info.budget_nanos
    remaining = _left(info.limit, counts.used)
    key_cap = None
    if info.max_requests is not None:
        key_used = counts.key_used or 0
        key_cap = {"limit": info.max_requests, "used": key_used, "remaining": _left(info.max_requests, key_used)}
        remaining = min(remaining, key_cap["remaining"])  # what this key may still make
    return {
        "key": info.public_prefix,
        "plan": info.plan_name,
        "period": info.period,
        "time_zone": info.time_zone,
        "reset_at": counts.reset_at.isoformat(),
        "requests": {"limit": info.limit, "used": counts.used, "remaining": remaining},
        "key_cap": key_cap,
        "tokens": {
            "limit": info.token_limit,
            "used": counts.tokens,
            "remaining": _left(info.token_limit, counts.tokens),
        },
        "budget": {
            "limit": money_text(budget),
            "spent": money_text(counts.nanos),
            "remaining": money_text(_left(budget, counts.nanos)),
            "currency": keys_settings.TOLLGATE_CURRENCY,
        },
        "models": models,
        "expires_at": _iso(info.expires_at),
    }


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()


async def key_state(scope: Scope, receive: Receive, send: Send) -> None:
    info = await authenticate(scope, send)
    if info is None:
        return
    try:
        counts = await metering.counts(info)
    except Exception:
        logger.exception("could not read the key's counts")
        return await send_unavailable(send)
    snapshot = await catalogue()
    granted = snapshot.granted(info.plan_id) if not snapshot.empty else [m for m in [default_model()] if m]
    models = key_models(info, granted) if not snapshot.empty or not info.allowed_models else sorted(info.allowed_models)
    reset_in = seconds_until(counts.reset_at)
    tokens = counts.tokens if info.token_limit else None
    headers = ratelimit_headers(info.limit, info.limit - counts.used, reset_in, tokens, info.token_limit)
    await send_json(send, 200, key_state_body(info, counts, models), headers)
