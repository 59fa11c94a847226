"""The HTTP answers to a key that is missing or unknown (401) and to every refusal code, in one table."""

import logging

from gateway import calls, messages
from gateway.calls import Refused
from gateway.http import Scope, Send, error_body, send_error, send_json
from keys import metering
from keys.app_settings import app_settings as keys_settings
from keys.metering import Admission, KeyInfo, RefusalCode
from keys.money import money_text
from keys.periods import seconds_until
from keys.scopes import address_allowed
from plumbing.addresses import scope_client_address

logger = logging.getLogger(__name__)
CHALLENGE = [(b"www-authenticate", b"Bearer")]


def reset_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def ratelimit_headers(
    limit: int, remaining: int, reset_in: int, tokens_used: int | None = None, token_limit: int | None = None
) -> list[tuple[bytes, bytes]]:
    reset = reset_duration(reset_in).encode()
    headers = [
        (b"x-ratelimit-limit-requests", str(limit).encode()),
        (b"x-ratelimit-remaining-requests", str(max(remaining, 0)).encode()),
        (b"x-ratelimit-reset-requests", reset),
    ]
    if token_limit:  # only plans with a token limit have one to report
        headers += [
            (b"x-ratelimit-limit-tokens", str(token_limit).encode()),
            (b"x-ratelimit-remaining-tokens", str(max(token_limit - (tokens_used or 0), 0)).encode()),
            (b"x-ratelimit-reset-tokens", reset),
        ]
    return headers


def admission_headers(admission: Admission | None, given_back: int = 0) -> list[tuple[bytes, bytes]]:
    if admission is None:
        return []
    reset_in = seconds_until(admission.reset_at) if admission.reset_at else 1
    return ratelimit_headers(
        admission.limit, admission.remaining + given_back, reset_in, admission.tokens_used, admission.token_limit
    )


async def current_ratelimit_headers(info: KeyInfo) -> list[tuple[bytes, bytes]]:
    """The rate-limit headers for an answer that spent nothing (a 400, a throttle refusal)."""
    try:
        if info.token_limit:
            counts = await metering.counts(info)
            used, tokens = counts.used, counts.tokens
        else:
            used, tokens = await metering.used(info), None
    except Exception:
        return []
    reset_in = seconds_until(info.period_now()[1])
    return ratelimit_headers(info.limit, info.limit - used, reset_in, tokens, info.token_limit)


async def send_unavailable(send: Send) -> None:
    await send_error(send, 503, messages.UNAVAILABLE, "server_error", "service_unavailable", [(b"retry-after", b"5")])


def presented_key(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
        elif name == b"x-api-key":
            return value.decode("latin-1").strip()
    return ""


async def authenticate(scope: Scope, send: Send) -> KeyInfo | None:
    raw = presented_key(scope)
    try:
        info = await calls.authenticate(raw) if raw else None
    except Exception:
        logger.exception("key lookup failed")
        await send_unavailable(send)
        return None
    if info is None:
        message = messages.MISSING_KEY if not raw else messages.INVALID_KEY
        await send_error(send, 401, message, "invalid_request_error", "invalid_api_key", CHALLENGE)
        return None
    if info.expired:
        await send_refusal(send, Refused(RefusalCode.EXPIRED, info))
        return None
    if info.allowed_ips:
        address = scope_client_address(scope)
        if not address_allowed(info.allowed_ips, address):
            message = messages.ip_not_allowed(address)
            await send_error(send, 403, message, "invalid_request_error", "ip_not_allowed")
            return None
    return info


async def send_refusal(send: Send, refused: Refused) -> None:
    """Answer a refusal by its code: the one table from code to HTTP answer."""
    status, body, headers = await _ANSWERS[refused.code](refused)
    await send_json(send, status, body, headers)


async def _requests_spent(refused: Refused) -> tuple[int, dict, list]:
    info = refused.info
    limit = refused.admission.limit if refused.admission else info.limit
    _, reset_at = info.period_now()
    message = messages.limit_exceeded(info.plan_name, limit, info.period, reset_at)
    body = limit_exceeded_body(message, "requests")
    return 429, body, [*limit_exceeded_headers(info), *ratelimit_headers(limit, 0, seconds_until(reset_at))]


async def _key_cap_spent(refused: Refused) -> tuple[int, dict, list]:
    info = refused.info
    cap = info.max_requests or 0
    _, reset_at = info.period_now()
    body = limit_exceeded_body(messages.key_cap_exceeded(info.public_prefix, cap, info.period, reset_at), "requests")
    return 429, body, [*limit_exceeded_headers(info), *ratelimit_headers(cap, 0, seconds_until(reset_at))]


async def _tokens_spent(refused: Refused) -> tuple[int, dict, list]:
    info, admission = refused.info, refused.admission
    _, reset_at = info.period_now()
    used = admission.tokens_used if admission and admission.tokens_used is not None else info.token_limit or 0
    left = max((info.token_limit or 0) - used, 0)
    message = messages.tokens_exceeded(info.plan_name, info.token_limit, info.period, reset_at, left=left)
    body = limit_exceeded_body(message, "tokens")
    body["error"]["remaining"] = left
    body["error"]["reset_at"] = reset_at.isoformat()
    return 429, body, [*limit_exceeded_headers(info), *await current_ratelimit_headers(info)]


async def _budget_spent(refused: Refused) -> tuple[int, dict, list]:
    info, admission = refused.info, refused.admission
    _, reset_at = info.period_now()
    budget = info.budget_nanos or 0
    spent = admission.spent_nanos if admission and admission.spent_nanos is not None else budget
    left, currency = max(budget - spent, 0), keys_settings.TOLLGATE_CURRENCY
    message = messages.budget_exceeded(
        info.plan_name, money_text(budget), money_text(left), currency, info.period, reset_at
    )
    body = limit_exceeded_body(message, "budget")
    body["error"].update(
        budget=money_text(budget), remaining=money_text(left), currency=currency, reset_at=reset_at.isoformat()
    )
    return 429, body, [*limit_exceeded_headers(info), *await current_ratelimit_headers(info)]


async def _throttled(refused: Refused) -> tuple[int, dict, list]:
    info = refused.info
    retry = str(max(int(refused.retry_after + 0.999), 1)).encode()
    message = messages.too_many_requests(info.plan_name, info.throttle_rate or 0)
    body = {
        "message": messages.TOO_MANY_REQUESTS,
        "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"},
    }
    return 429, body, [(b"retry-after", retry), *await current_ratelimit_headers(info)]


async def _revoked(refused: Refused) -> tuple[int, dict, list]:
    return 401, error_body(messages.REVOKED_KEY, "invalid_request_error", "invalid_api_key"), []


async def _expired(refused: Refused) -> tuple[int, dict, list]:
    message = messages.key_expired(refused.info.expires_at)
    return 401, error_body(message, "invalid_request_error", "key_expired"), CHALLENGE


async def _unavailable(refused: Refused) -> tuple[int, dict, list]:
    return 503, error_body(messages.UNAVAILABLE, "server_error", "service_unavailable"), [(b"retry-after", b"5")]


_ANSWERS = {
    RefusalCode.REQUESTS: _requests_spent,
    RefusalCode.TOKENS: _tokens_spent,
    RefusalCode.KEY_REQUESTS: _key_cap_spent,
    RefusalCode.BUDGET: _budget_spent,
    RefusalCode.THROTTLE: _throttled,
    RefusalCode.REVOKED: _revoked,
    RefusalCode.EXPIRED: _expired,
    RefusalCode.UNAVAILABLE: _unavailable,
}


def limit_exceeded_body(message: str, kind: str) -> dict:
    return {
        "message": messages.LIMIT_EXCEEDED,
        "error": {"message": message, "type": kind, "param": None, "code": "rate_limit_exceeded"},
    }


def limit_exceeded_headers(info: KeyInfo) -> list:
    # x-should-retry tells the openai SDK not to retry: nothing changes until the reset.
    retry = str(seconds_until(info.period_now()[1])).encode()
    return [(b"retry-after", retry), (b"x-should-retry", b"false")]
