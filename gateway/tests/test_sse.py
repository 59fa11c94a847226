"""Relaying server-sent events: whole events only, usage noted and hidden, however the bytes are cut."""

import asyncio

import pytest

from gateway.relay import Tally, relay_events
from gateway.sse import EventSplitter
from gateway.streams import Stream

EVENTS = [
    b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n',
    b'data: {"choices": [{"delta": {"content": "lo"}}]}\n\n',
    b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n',
    b"data: [DONE]\n\n",
]


def relayed(chunks: list[bytes], wants_usage: bool) -> tuple[bytes, Tally]:
    sent, tally = [], Tally()

    async def send(message: dict) -> None:
        sent.append(message)

    async def source():
        for chunk in chunks:
            yield chunk

    asyncio.run(relay_events(send, Stream(source(), lambda: None), [], wants_usage, tally))
    return b"".join(m.get("body", b"") for m in sent[1:]), tally


@pytest.mark.parametrize("size", [1, 7, 40, 1000])
@pytest.mark.parametrize("wants_usage", [True, False])
def test_any_cut_relays_the_same_events_and_notes_the_usage(size, wants_usage):
    whole = b"".join(EVENTS)
    body, tally = relayed([whole[i : i + size] for i in range(0, len(whole), size)], wants_usage)
    expected = whole if wants_usage else whole.replace(EVENTS[2], b"")
    assert body == expected
    assert (tally.prompt, tally.completion) == (3, 2)


def test_crlf_streams_are_read_too():
    splitter = EventSplitter()
    assert splitter.complete(b"data: 1\r\n\r\ndata: 2\r") == b"data: 1\n\n"
    assert splitter.complete(b"\n\r\n") == b"data: 2\n\n"
