"""Every message the chat socket and the seed's /query show to people, in one place."""

from gateway.messages import LIMIT_EXCEEDED, RESETS, TOO_MANY_REQUESTS, model_not_found

__all__ = ["LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "model_not_found"]

QUERY_MESSAGE_REQUIRED = "The 'message' query parameter is required."

FRAME_NOT_JSON = "Frames must be JSON objects."
FRAME_UNKNOWN = "Unknown frame type; use 'send', 'retry' or 'stop'."
FRAME_BAD_IDS = "'key' must be a key id and 'conversation' an id or null."
FRAME_BAD_MODEL = "'model' must be a model name."
BUSY = "Wait for the answer to finish, or stop it first."
EMPTY_MESSAGE = "Type a message first."
RETRY_NEEDS_CONVERSATION = "Retry needs the conversation."
NOT_YOUR_KEY = "That is not one of your active keys. Pick another or generate one."
KEY_REVOKED = "That key has been revoked."
KEY_EXPIRED = "That key has expired. Generate a new one on the Keys page."
SLOW_DOWN = "Slow down a little."
NO_CONVERSATION = "That conversation does not exist."
MODEL_FAILED = "Something went wrong: the model did not answer. This message was not charged."
MODEL_REFUSED = "Something went wrong: the model refused the request. This message was not charged."
OUR_FAILURE = "Something went wrong on our side. This message was not charged."


def limit_detail(plan: str, limit: int) -> str:
    return f"{plan} allows {limit} requests per day; {RESETS}."


def token_limit_detail(plan: str, limit: int | None) -> str:
    return f"{plan} allows {limit} tokens per day; {RESETS}."


def too_long(limit: int) -> str:
    return f"Messages are limited to {limit} characters."
