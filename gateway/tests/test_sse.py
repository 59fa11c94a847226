"""Relaying server-sent events: whole events only, usage noted and hidden, however the bytes are cut."""

import asyncio

import pytest

from gateway.calls import Call, Tally
from gateway.catalogue import Route
from gateway.sse import EventSplitter
from gateway.streams import Stream
from keys.metering import KeyInfo

INFO = KeyInfo(1, 1, 1, "plan", 10, None, None, "", False)

EVENTS = [
    b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n',
    b'data: {"choices": [{"delta": {"content": "lo"}}]}\n\n',
    b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n',
    b"data: [DONE]\n\n",
]


def relayed(chunks: list[bytes], wants_usage: bool) -> tuple[bytes, Tally]:
    async def source():
        for chunk in chunks:
            yield chunk

    class Upstream:
        async def stream(self, path, body, headers=None):
            return Stream(source(), lambda: None)

    async def relay() -> bytes:
        from gateway.bodies import model_request_from_json
        from gateway.catalogue import Target

        call = Call(INFO, Route("m", (Target(None, "u", Upstream(), 1, "m"),)), None)
        options = ', "stream_options": {"include_usage": true}' if wants_usage else ""
        request = model_request_from_json(f'{{"model": "m", "stream": true{options}}}'.encode())
        await call.open("/chat/completions", request)
        return b"".join([out async for out in call.events()]), call.tally

    return asyncio.run(relay())


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
