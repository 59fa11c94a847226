"""The gateway's checks and refusals: the key (401), the throttle and the daily quota (429)."""

import logging

from gateway import messages, metrics
from gateway.http import Scope, Send, send_error, send_json
from keys import metering
from keys.metering import Admission, KeyInfo, seconds_until_reset

logger = logging.getLogger(__name__)


def reset_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def ratelimit_headers(
    limit: int, remaining: int, tokens_used: int | None = None, token_limit: int | None = None
) -> list[tuple[bytes, bytes]]:
    reset = reset_duration(seconds_until_reset()).encode()
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


def admission_headers(admission: Admission, given_back: int = 0) -> list[tuple[bytes, bytes]]:
    return ratelimit_headers(
        admission.limit, admission.remaining + given_back, admission.tokens_used, admission.token_limit
    )


async def current_ratelimit_headers(info: KeyInfo) -> list[tuple[bytes, bytes]]:
    """The rate-limit headers for an answer that spent nothing (a 400, a throttle refusal)."""
    try:
        used = await metering.used(info)
        tokens = await metering.tokens_used(info) if info.token_limit else None
    except Exception:
        return []
    return ratelimit_headers(info.limit, info.limit - used, tokens, info.token_limit)


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
        info = await metering.authenticate(raw) if raw else None
    except Exception:
        logger.exception("key lookup failed")
        await send_unavailable(send)
        return None
    challenge = [(b"www-authenticate", b"Bearer")]
    if info is None:
        message = messages.MISSING_KEY if not raw else messages.INVALID_KEY
        await send_error(send, 401, message, "invalid_request_error", "invalid_api_key", challenge)
        return None
    if info.expired:
        await send_error(
            send, 401, messages.key_expired(info.expires_at), "invalid_request_error", "key_expired", challenge
        )
        return None
    return info


async def admit(info: KeyInfo, send: Send) -> Admission | None:
    """Spend one request of the day; answer the refusal and return None if refused."""
    try:
        verdict = await metering.admit(info)
    except Exception:
        logger.exception("quota check failed")
        await send_unavailable(send)
        return None
    if verdict.throttled_for:
        metrics.count_refusal(info.plan_name, "throttle")
        retry = str(max(int(verdict.throttled_for + 0.999), 1)).encode()
        message = messages.too_many_requests(info.plan_name, info.throttle_rate)
        body = {
            "message": messages.TOO_MANY_REQUESTS,
            "error": {"message": message, "type": "requests", "param": None, "code": "rate_limit_exceeded"},
        }
        await send_json(send, 429, body, [(b"retry-after", retry), *await current_ratelimit_headers(info)])
        return None
    if verdict.revoked:
        await send_error(send, 401, messages.REVOKED_KEY, "invalid_request_error", "invalid_api_key")
        return None
    admission = verdict.admission
    if verdict.tokens_exceeded:
        metrics.count_refusal(info.plan_name, "tokens")
        body = limit_exceeded_body(messages.tokens_exceeded(info.plan_name, admission.token_limit), "tokens")
        headers = [*limit_exceeded_headers(), *await current_ratelimit_headers(info)]
        await send_json(send, 429, body, headers)
        return None
    if not admission.admitted:
        metrics.count_refusal(info.plan_name, "requests")
        body = limit_exceeded_body(messages.limit_exceeded(info.plan_name, admission.limit), "requests")
        headers = [*limit_exceeded_headers(), *ratelimit_headers(admission.limit, 0)]
        await send_json(send, 429, body, headers)
        return None
    return admission


def limit_exceeded_body(message: str, kind: str) -> dict:
    return {
        "message": messages.LIMIT_EXCEEDED,
        "error": {"message": message, "type": kind, "param": None, "code": "rate_limit_exceeded"},
    }


def limit_exceeded_headers() -> list:
    # x-should-retry tells the openai SDK not to retry: nothing changes until the reset.
    return [(b"retry-after", str(seconds_until_reset()).encode()), (b"x-should-retry", b"false")]
