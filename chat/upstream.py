"""The LLM upstream: an OpenAI-compatible server reached over aiohttp, or the built-in demo model."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache

import aiohttp
from django.conf import settings

DEMO_MODEL = "tollgate-demo"
DEMO_REPLY = (
    "Hello! I am **Tollgate's built-in demo model**, not a real LLM. "
    "Your key, your quota and this streamed answer are all real; "
    "set `LLM_BASE_URL` to put an actual model behind Tollgate."
)


class UpstreamError(Exception):
    """The upstream could not answer: not reached, timed out, or failed with 5xx. Never charged."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UpstreamRefused(Exception):
    """The upstream answered 4xx; its answer is passed on to the client as it is."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


class Stream:
    """An open streamed answer: iterate chunks() for raw SSE bytes as they arrive; close() to abort."""

    def __init__(self, chunks: AsyncIterator[bytes], close) -> None:
        self._chunks = chunks
        self._close = close

    def chunks(self) -> AsyncIterator[bytes]:
        return self._chunks

    def close(self) -> None:
        self._close()


class OpenAIUpstream:
    """An OpenAI-compatible server at base_url (which includes /v1, like the SDK's base_url)."""

    is_demo = False

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"content-type": "application/json"}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"
        self.timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=256, ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, headers=self.headers, auto_decompress=True
            )
            self._loop = loop
        return self._session

    async def _open(
        self, method: str, path: str, body: bytes | None, headers: dict | None = None
    ) -> aiohttp.ClientResponse:
        try:
            response = await self._client().request(method, self.base_url + path, data=body, headers=headers)
        except TimeoutError as exc:
            raise UpstreamError(504, "The model server did not answer in time.") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, "The model server could not be reached.") from exc
        if response.status >= 500:
            response.release()
            raise UpstreamError(502, f"The model server failed (HTTP {response.status}).")
        if response.status >= 400:
            body = await response.read()
            raise UpstreamRefused(response.status, body, response.headers.get("content-type", "application/json"))
        return response

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """A whole answer, read before returning."""
        response = await self._open(method, path, body)
        try:
            return await response.read()
        except TimeoutError as exc:
            raise UpstreamError(504, "The model server did not answer in time.") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, "The model server broke off its answer.") from exc
        finally:
            response.release()

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        response = await self._open("POST", path, body, headers)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            except TimeoutError as exc:
                raise UpstreamError(504, "The model server stopped answering.") from exc
            except aiohttp.ClientError as exc:
                raise UpstreamError(502, "The model server broke off its answer.") from exc
            finally:
                response.close()  # close, not release: an abandoned stream must end upstream too

        return Stream(chunks(), response.close)


class DemoUpstream:
    """A clearly labelled stand-in that answers with a fixed text, word by word."""

    is_demo = True
    word_delay = 0.04

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        if path == "/models":
            return json.dumps({"object": "list", "data": [_demo_model_card()]}).encode()
        payload = json.loads(body or b"{}")
        completion = {
            "id": f"chatcmpl-demo-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": DEMO_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": DEMO_REPLY}, "finish_reason": "stop"}],
            "usage": _demo_usage(payload),
        }
        return json.dumps(completion).encode()

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
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


@lru_cache(maxsize=4)
def _upstream_for(base_url: str, api_key: str, timeout: float) -> OpenAIUpstream | DemoUpstream:
    return OpenAIUpstream(base_url, api_key, timeout) if base_url else DemoUpstream()


def get_upstream() -> OpenAIUpstream | DemoUpstream:
    """The upstream for the current settings; the demo model when LLM_BASE_URL is unset."""
    return _upstream_for(settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_TIMEOUT)


def default_model() -> str:
    if not settings.LLM_BASE_URL:
        return DEMO_MODEL
    return settings.LLM_MODEL


def gateway_upstream() -> OpenAIUpstream:
    """AWS API Gateway in front of the LLM (KEYS_BACKEND=aws): it checks each user's own key."""
    return _upstream_for(settings.AWS_API_GATEWAY_URL, "", settings.LLM_TIMEOUT)
