"""Checks on request bodies, made before anything is charged."""

import json

from gateway import messages


def validate_chat(body: bytes | None) -> tuple[dict | None, str]:
    """The chat completion request as a dict, or None and the problem to tell the client."""
    if body is None:
        return None, messages.BODY_MISSING
    try:
        payload = json.loads(body)
    except ValueError:
        return None, messages.BODY_NOT_JSON
    if not isinstance(payload, dict):
        return None, messages.BODY_NOT_OBJECT
    turns = payload.get("messages")
    if not isinstance(turns, list) or not turns or not all(isinstance(m, dict) for m in turns):
        return None, messages.MESSAGES_REQUIRED
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        return None, messages.MODEL_NOT_STRING
    return payload, ""
