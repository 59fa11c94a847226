"""Every message the gateway, /query and the chat socket show to people, in one place."""

LIMIT_EXCEEDED = "Limit Exceeded"
TOO_MANY_REQUESTS = "Too Many Requests"
RESETS = "resets at 00:00 UTC"

MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
INVALID_KEY = "Invalid API key: it is mistyped, unknown or revoked. Generate one at /keys/."
REVOKED_KEY = "Invalid API key: it has been revoked."
UNAVAILABLE = "Tollgate could not check your key or quota just now. The request was not charged; try again shortly."
NOT_CHARGED = "The request was not charged; try again."

BODY_MISSING = "The request body is missing or larger than 4 MiB."
BODY_NOT_JSON = "The request body is not valid JSON."
BODY_NOT_OBJECT = "The request body must be a JSON object."
MESSAGES_REQUIRED = "'messages' must be a non-empty list of message objects."
MODEL_NOT_STRING = "'model' must be a string."
MODEL_REQUIRED = "'model' is required: this server sets no default model."
QUERY_MESSAGE_REQUIRED = "The 'message' query parameter is required."

FRAME_NOT_JSON = "Frames must be JSON objects."
FRAME_UNKNOWN = "Unknown frame type; use 'send', 'retry' or 'stop'."
FRAME_BAD_IDS = "'key' must be a key id and 'conversation' an id or null."
BUSY = "Wait for the answer to finish, or stop it first."
EMPTY_MESSAGE = "Type a message first."
RETRY_NEEDS_CONVERSATION = "Retry needs the conversation."
NOT_YOUR_KEY = "That is not one of your active keys. Pick another or generate one."
KEY_REVOKED = "That key has been revoked."
SLOW_DOWN = "Slow down a little."
NO_CONVERSATION = "That conversation does not exist."
MODEL_FAILED = "Something went wrong: the model did not answer. This message was not charged."
MODEL_REFUSED = "Something went wrong: the model refused the request. This message was not charged."
OUR_FAILURE = "Something went wrong on our side. This message was not charged."


def limit_exceeded(plan: str, limit: int) -> str:
    return f"{LIMIT_EXCEEDED}: {plan} allows {limit} requests per day; {RESETS}"


def limit_detail(plan: str, limit: int) -> str:
    return f"{plan} allows {limit} requests per day; {RESETS}."


def too_many_requests(plan: str, rate: float) -> str:
    return f"{TOO_MANY_REQUESTS}: {plan} allows {rate:g} requests per second."


def too_long(limit: int) -> str:
    return f"Messages are limited to {limit} characters."


def unknown_endpoint(path: str) -> str:
    return f"Unknown endpoint {path}; Tollgate serves /v1/chat/completions and /v1/models."


def wrong_method(method: str, path: str) -> str:
    return f"Use {method} for {path}."
