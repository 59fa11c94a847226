"""The LLM upstream: an OpenAI-compatible server reached over aiohttp, or the built-in demo model."""

from collections.abc import AsyncIterator
from functools import lru_cache

import aiohttp

from gateway import messages
from gateway.app_settings import app_settings
from gateway.demo import DEMO_MODEL, DemoUpstream
from gateway.streams import Stream
from keys.metering.loopbound import LoopBound


class UpstreamError(Exception):
    """The upstream could not answer: not reached, timed out, or failed with 5xx. Never charged.

    `code` says which, for callers to decide by; `message` is for people.
    """

    TIMEOUT, UNREACHABLE, FAILED, BROKE_OFF = "timeout", "unreachable", "failed", "broke_off"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class UpstreamRefused(Exception):
    """The upstream answered 4xx; its answer is passed on to the client as it is."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


class OpenAIUpstream:
    """An OpenAI-compatible server at base_url (which includes /v1, like the SDK's base_url)."""

    is_demo = False

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"content-type": "application/json"}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"
        self.timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=timeout)
        self._session = LoopBound(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=256, ttl_dns_cache=300, enable_cleanup_closed=True)
        return aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, headers=self.headers, auto_decompress=True
        )

    def _client(self) -> aiohttp.ClientSession:
        return self._session.get()

    async def _open(
        self, method: str, path: str, body: bytes | None, headers: dict | None = None
    ) -> aiohttp.ClientResponse:
        try:
            response = await self._client().request(method, self.base_url + path, data=body, headers=headers)
        except TimeoutError as exc:
            raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, UpstreamError.UNREACHABLE, messages.UPSTREAM_UNREACHABLE) from exc
        if response.status >= 500:
            response.release()
            raise UpstreamError(502, UpstreamError.FAILED, messages.upstream_failed(response.status))
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
            raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, UpstreamError.BROKE_OFF, messages.UPSTREAM_BROKE_OFF) from exc
        finally:
            response.release()

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        response = await self._open("POST", path, body, headers)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            except TimeoutError as exc:
                raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_STOPPED) from exc
            except aiohttp.ClientError as exc:
                raise UpstreamError(502, UpstreamError.BROKE_OFF, messages.UPSTREAM_BROKE_OFF) from exc
            finally:
                response.close()  # close, not release: an abandoned stream must end upstream too

        return Stream(chunks(), response.close)


@lru_cache(maxsize=4)
def _upstream_for(base_url: str, api_key: str, timeout: float) -> OpenAIUpstream | DemoUpstream:
    return OpenAIUpstream(base_url, api_key, timeout) if base_url else DemoUpstream()


def get_upstream() -> OpenAIUpstream | DemoUpstream:
    """The upstream for the current settings; the demo model when LLM_BASE_URL is unset."""
    return _upstream_for(app_settings.LLM_BASE_URL, app_settings.LLM_API_KEY, app_settings.LLM_TIMEOUT)


def default_model() -> str:
    if not app_settings.LLM_BASE_URL:
        return DEMO_MODEL
    return app_settings.LLM_MODEL


def upstream_at(url: str) -> OpenAIUpstream:
    """An upstream that checks each user's own key itself (AWS API Gateway in front of the LLM)."""
    return _upstream_for(url, "", app_settings.LLM_TIMEOUT)
