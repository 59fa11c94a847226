"""What the request log keeps of one call: facts only, never its text. The faces begin and end a note;
the door fills it in as the call goes."""

import contextvars
import time
from dataclasses import dataclass

from keys.money import from_nanos
from requestlog import request_log_note


@dataclass(slots=True)
class CallNote:
    endpoint: str
    request_id: str
    client_ip: str | None
    started: float  # Unix time
    clock: float  # monotonic
    stream: bool = False
    user_id: int | None = None
    team_id: int | None = None
    key_prefix: str = ""
    model: str = ""
    upstream: str = ""
    refusal: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_nanos: int | None = None
    first_byte: float | None = None

    def first_byte_sent(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.monotonic()

    def end(self, status: int) -> None:
        now = time.monotonic()
        request_log_note(
            request_id=self.request_id,
            user_id=self.user_id,
            team_id=self.team_id,
            key_prefix=self.key_prefix,
            endpoint=self.endpoint,
            model=self.model,
            upstream=self.upstream,
            status=status,
            refusal=self.refusal,
            stream=self.stream,
            latency_ms=round((now - self.clock) * 1000),
            ttfb_ms=round((self.first_byte - self.clock) * 1000) if self.first_byte is not None else None,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=None if self.cost_nanos is None else from_nanos(self.cost_nanos),
            client_ip=self.client_ip,
            started=self.started,
        )


current_note: contextvars.ContextVar[CallNote | None] = contextvars.ContextVar("call_note", default=None)


def note_begin(*, endpoint: str, request_id: str, client_ip: str | None) -> CallNote:
    """Begin the note of the call this task is making; the door fills it in, the face ends it."""
    note = CallNote(endpoint, request_id, client_ip, time.time(), time.monotonic())
    current_note.set(note)
    return note
