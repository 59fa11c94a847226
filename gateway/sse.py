"""Splitting an OpenAI server-sent-event stream into events, and reading what they carry."""

import json
import re

_PROMPT = re.compile(rb'"(?:prompt|input)_tokens"\s*:\s*(\d+)')
_COMPLETION = re.compile(rb'"(?:completion|output)_tokens"\s*:\s*(\d+)')


class EventSplitter:
    """Feeds raw bytes in, hands complete `data: ...` events out, each ending in a blank line."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events = buffer.split(b"\n\n")
        self._buffer = events.pop()
        return [event + b"\n\n" for event in events if event]

    def complete(self, chunk: bytes) -> bytes:
        """The complete events so far, as one piece of bytes; an unfinished event waits for the next chunk."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self._buffer = buffer
            return b""
        self._buffer = buffer[end + 2 :]
        return buffer[: end + 2]

    @staticmethod
    def events(complete: bytes) -> list[bytes]:
        """complete() output cut into its events, each ending in a blank line."""
        return [event + b"\n\n" for event in complete.split(b"\n\n") if event]

    def rest(self) -> bytes:
        rest, self._buffer = self._buffer, b""
        return rest


def event_payload(event: bytes) -> dict | None:
    """The JSON object an event carries, or None for [DONE], comments and anything unreadable."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                return None
            try:
                payload = json.loads(data)
            except ValueError:
                return None
            return payload if isinstance(payload, dict) else None
    return None


def carries_usage(event: bytes) -> bool:
    # A cheap test first: only the last chunk of a stream carries a usage object.
    return b'"usage"' in event and b'"usage":null' not in event and b'"usage": null' not in event


def usage_tokens(usage: object) -> tuple[int, int]:
    """(prompt, completion) from any of OpenAI's usage shapes: chat and completions
    (prompt/completion), responses (input/output), embeddings (prompt only)."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)


def event_usage(data: dict) -> object:
    """The usage an event carries: at the top level, or in a responses stream's final response."""
    usage = data.get("usage")
    if usage is None and isinstance(data.get("response"), dict):
        usage = data["response"].get("usage")
    return usage


def delta_text(payload: dict) -> str:
    choices = payload.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def event_text(payload: dict) -> str:
    """The answer text an event delivers: a chat delta, a text completion's text, or a responses delta."""
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        return text if isinstance(text, str) else ""
    if payload.get("type") == "response.output_text.delta" and isinstance(payload.get("delta"), str):
        return payload["delta"]
    return ""


def body_text_bytes(body: bytes) -> int:
    """The bytes of answer text a whole (non-streamed) answer holds; its length if it cannot be read."""
    try:
        data = json.loads(body)
    except ValueError:
        return len(body)
    total, stack = 0, [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("content", "text", "refusal", "arguments") and isinstance(value, str):
                    total += len(value.encode())
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return total


def body_usage_tokens(body: bytes) -> tuple[int, int]:
    """Token counts from a whole completion, without parsing all of it (this is on the hot path)."""
    prompt, completion = _PROMPT.search(body), _COMPLETION.search(body)
    return (int(prompt[1]) if prompt else 0), (int(completion[1]) if completion else 0)
