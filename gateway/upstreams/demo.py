"""The built-in demo model: a clearly labelled stand-in that answers with a fixed text, word by word."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

from gateway import messages
from gateway.errors import UpstreamRefused
from gateway.streams import Stream
from gateway.upstreams.base import BaseUpstream

JSON = "application/json"
DEMO_MODEL = "tollgate-demo"
DEMO_REPLY = (
    "Hello! I am **Tollgate's built-in demo model**, not a real LLM. "
    "Your key, your quota and this streamed answer are all real; "
    "set `LLM_BASE_URL` to put an actual model behind Tollgate."
)


class DemoUpstream(BaseUpstream):
    """A clearly labelled stand-in that answers with a fixed text, word by word."""

    word_delay = 0.04

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[bytes, str]:
        if path == "/models":
            return json.dumps({"object": "list", "data": [_demo_model_card()]}).encode(), JSON
        _only_chat(path)
        payload = json.loads(body or b"{}")
        completion = {
            "id": f"chatcmpl-demo-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": DEMO_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": DEMO_REPLY}, "finish_reason": "stop"}],
            "usage": _demo_usage(payload),
        }
        return json.dumps(completion).encode(), JSON

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        _only_chat(path)
        payload = json.loads(body)
        ident = f"chatcmpl-demo-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def event(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": DEMO_MODEL}
            chunk["choices"] = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
            if usage:
                chunk["usage"] = usage
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        async def chunks() -> AsyncIterator[bytes]:
            yield event({"role": "assistant", "content": ""})
            words = DEMO_REPLY.split(" ")
            for index, word in enumerate(words):
                await asyncio.sleep(self.word_delay)
                yield event({"content": word if index == 0 else " " + word})
            yield event({}, finish="stop")
            if (payload.get("stream_options") or {}).get("include_usage"):
                yield event({}, usage=_demo_usage(payload))
            yield b"data: [DONE]\n\n"

        return Stream(chunks(), lambda: None)


def _demo_model_card() -> dict:
    return {"id": DEMO_MODEL, "object": "model", "created": 0, "owned_by": "tollgate (demo: not a real model)"}


def _demo_usage(payload: dict) -> dict:
    prompt = sum(len(str(m.get("content", "")).split()) for m in payload.get("messages", []) if isinstance(m, dict))
    completion = len(DEMO_REPLY.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _only_chat(path: str) -> None:
    if path != "/chat/completions":
        error = {"error": {"message": messages.DEMO_ONLY_CHATS, "type": "invalid_request_error", "code": "demo_model"}}
        raise UpstreamRefused(400, json.dumps(error).encode(), JSON)
