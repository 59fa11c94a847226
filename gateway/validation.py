"""Per-endpoint checks on a JSON body, made before anything is charged. Each raises BodyProblem."""

from gateway import messages
from gateway.bodies import BodyProblem


def validate_chat(payload: dict) -> None:
    turns = payload.get("messages")
    if not isinstance(turns, list) or not turns or not all(isinstance(m, dict) for m in turns):
        raise BodyProblem(messages.MESSAGES_REQUIRED)
    for turn in turns:
        if not isinstance(turn.get("role"), str):
            raise BodyProblem(messages.ROLE_NOT_STRING)
        content = turn.get("content")
        if content is not None and not isinstance(content, str | list):
            raise BodyProblem(messages.CONTENT_TYPE)


def validate_completion(payload: dict) -> None:
    if not isinstance(payload.get("prompt"), str | list):
        raise BodyProblem(messages.PROMPT_REQUIRED)


def validate_embedding(payload: dict) -> None:
    if not isinstance(payload.get("input"), str | list) or not payload.get("input"):
        raise BodyProblem(messages.INPUT_REQUIRED)
