"""Every message the /v1 gateway gives people, in one place. The API's bodies stay English: clients parse them."""

import datetime

LIMIT_EXCEEDED = "Limit Exceeded"  # the seed's exact words; its front end checks for them
TOO_MANY_REQUESTS = "Too Many Requests"
RESETS = "resets at 00:00 UTC"

MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
INVALID_KEY = "Invalid API key: it is mistyped, unknown or revoked. Generate one at /keys/."
REVOKED_KEY = "Invalid API key: it has been revoked."
UNAVAILABLE = "Tollgate could not check your key or quota just now. The request was not charged; try again shortly."
NOT_CHARGED = "The request was not charged; try again."
CHARGED_PART = "The request was charged only for the part of the answer that arrived."

BODY_MISSING = "The request body is missing."
BODY_NOT_JSON = "The request body is not valid JSON."
BODY_NOT_OBJECT = "The request body must be a JSON object."
MESSAGES_REQUIRED = "'messages' must be a non-empty list of message objects."
ROLE_NOT_STRING = "Each message's 'role' must be a string."
CONTENT_TYPE = "Each message's 'content' must be a string, a list of content parts, or null."
PROMPT_REQUIRED = "'prompt' must be a string or a list."
INPUT_REQUIRED = "'input' must be a non-empty string or list."
STREAM_NOT_BOOLEAN = "'stream' must be true or false."
STREAM_OPTIONS_NOT_OBJECT = "'stream_options' must be an object."
BODY_TOO_DEEP = "The request body is nested too deeply."
MULTIPART_BOUNDARY = "A multipart body needs a boundary in its Content-Type."
MODEL_NOT_STRING = "'model' must be a string."
MODEL_TWICE = "The request names 'model' more than once; send it once."
MODEL_REQUIRED = "'model' is required: this server sets no default model."

UPSTREAM_TIMEOUT = "The model server did not answer in time."
UPSTREAM_UNREACHABLE = "The model server could not be reached."
UPSTREAM_BROKE_OFF = "The model server broke off its answer."
UPSTREAM_STOPPED = "The model server stopped answering."
UPSTREAM_BUSY = "The model server is answering as many requests as the operator allows; try again in a moment."
UPSTREAM_MISCONFIGURED = (
    "The model server's credentials are not usable on this Tollgate; the operator has been told. Try again later."
)
UPSTREAM_CREDENTIALS = "The model server refused Tollgate's credentials. The operator has been told; try again later."
DEMO_ONLY_CHATS = (
    "The built-in demo model only answers /v1/chat/completions; the operator sets LLM_BASE_URL for a real model."
)


def upstream_failed(status: int) -> str:
    return f"The model server failed (HTTP {status})."


def resets(reset_at: datetime.datetime | None) -> str:
    if reset_at is None:
        return RESETS
    zone = getattr(reset_at.tzinfo, "key", None) or reset_at.tzname()
    return f"resets at {reset_at:%Y-%m-%d %H:%M} {zone}"


def limit_exceeded(plan: str, limit: int, period: str = "day", reset_at: datetime.datetime | None = None) -> str:
    return f"{LIMIT_EXCEEDED}: {plan} allows {limit} requests per {period}; {resets(reset_at)}"


def key_cap_exceeded(prefix: str, cap: int, period: str = "day", reset_at: datetime.datetime | None = None) -> str:
    return f"{LIMIT_EXCEEDED}: the key {prefix} is capped at {cap} requests per {period}; {resets(reset_at)}"


def ip_not_allowed(address: str | None) -> str:
    return (
        f"This key may not be used from {address or 'an unknown address'}: it is limited to some addresses. "
        "Its owner can change them on the keys page. The request was not charged."
    )


def tokens_exceeded(
    plan: str, limit: int | None, period: str = "day", reset_at: datetime.datetime | None = None, *, left: int = 0
) -> str:
    return (
        f"{LIMIT_EXCEEDED}: {plan} allows {limit} tokens per {period}; {left} are left, fewer than this call may "
        f"take (its prompt and its max_tokens, or the model's cap). Ask for fewer max_tokens, or wait: it "
        f"{resets(reset_at)}"
    )


def budget_exceeded(plan: str, budget: str, left: str, currency: str, period: str, reset_at: datetime.datetime) -> str:
    return (
        f"{LIMIT_EXCEEDED}: {plan}'s budget is {budget} {currency} per {period}; {left} {currency} is left, less "
        f"than this call may cost (its prompt and its max_tokens, or the model's cap). Ask for fewer max_tokens, "
        f"or wait: it {resets(reset_at)}"
    )


def output_cap_invalid(field: str) -> str:
    return f"'{field}' must be a whole number from 1 to 10000000. The request was not charged."


N_INVALID = "'n' must be a whole number from 1 to 128. The request was not charged."


def too_many_requests(plan: str, rate: float) -> str:
    return f"{TOO_MANY_REQUESTS}: {plan} allows {rate:g} requests per second."


def unknown_endpoint(path: str) -> str:
    return (
        f"Unknown endpoint {path}; Tollgate serves /v1/models, /v1/chat/completions, /v1/completions, "
        "/v1/embeddings, /v1/responses, /v1/moderations, /v1/images/generations and /v1/audio/*."
    )


def key_expired(expires_at: float | None) -> str:
    when = datetime.datetime.fromtimestamp(expires_at or 0, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"This API key expired at {when}. Generate a new one at /keys/."


def body_too_large(mib: int) -> str:
    return f"The request body is larger than {mib} MiB."


def model_not_found(model: str, granted: list[str]) -> str:
    available = ", ".join(granted) if granted else "none"
    return f"The model '{model}' does not exist or your plan does not include it. Models for this key: {available}."


def model_wrong_kind(model: str, kind: str, path: str) -> str:
    return f"The model '{model}' is a{'n' if kind[0] in 'aeiou' else ''} {kind} model; {path} does not serve it."


def wrong_method(method: str, path: str) -> str:
    return f"Use {method} for {path}."
