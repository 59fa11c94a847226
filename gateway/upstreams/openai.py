"""An OpenAI-compatible server reached over aiohttp."""

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp

from gateway import messages
from gateway.errors import UpstreamError, UpstreamRefused
from gateway.streams import Stream
from gateway.upstreams.base import BaseUpstream
from plumbing.loopbound import LoopBound

# A 4xx body that names these is about Tollgate's credentials, whatever status the provider chose.
_CREDENTIAL_WORDS = (b"api key", b"api_key", b"apikey", b"authorization", b"bearer")


class OpenAIUpstream(BaseUpstream):
    """An OpenAI-compatible server at base_url (which includes /v1, like the SDK's base_url)."""

    def __init__(self, base_url: str, api_key: str, timeout: float, max_concurrent: int = 0) -> None:
        self.base_url = base_url.rstrip("/")
        # No pool size caps concurrent streams silently: past an operator's limit the answer is a clear 503.
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.headers = {"content-type": "application/json"}
        # With Tollgate's own key sent, a 401 or 403 is about that key, never the user's request.
        self.sends_credentials = bool(api_key)
        self._secret = api_key.encode()
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"
        # Waits are timed here, not by aiohttp's sock_read, which re-arms a timer for every chunk read.
        self.read_timeout = timeout
        self.timeout = aiohttp.ClientTimeout(total=None, connect=10)
        self._session = LoopBound(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        return aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, headers=self.headers, auto_decompress=True
        )

    def _client(self) -> aiohttp.ClientSession:
        return self._session.get()

    def _claim(self) -> Callable[[], None]:
        """Count one request in flight, or refuse at once past max_concurrent; returns its release."""
        if self.max_concurrent and self.in_flight >= self.max_concurrent:
            raise UpstreamError(503, UpstreamError.BUSY, messages.UPSTREAM_BUSY)
        self.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_flight -= 1

        return release

    async def _open(
        self, method: str, path: str, body: bytes | None, headers: dict | None = None
    ) -> aiohttp.ClientResponse:
        try:
            async with asyncio.timeout(self.read_timeout):
                response = await self._client().request(method, self.base_url + path, data=body, headers=headers)
        except TimeoutError as exc:
            raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, UpstreamError.UNREACHABLE, messages.UPSTREAM_UNREACHABLE) from exc
        if response.status >= 500:
            response.release()
            raise UpstreamError(502, UpstreamError.FAILED, messages.upstream_failed(response.status))
        if response.status in (401, 403) and self.sends_credentials:
            response.release()  # its body may echo the provider's key: never read, never passed on
            raise UpstreamError(502, UpstreamError.CREDENTIALS, messages.UPSTREAM_CREDENTIALS)
        if response.status >= 400:
            body = await response.read()
            if self._leaks_credentials(body):
                raise UpstreamError(502, UpstreamError.CREDENTIALS, messages.UPSTREAM_CREDENTIALS)
            raise UpstreamRefused(response.status, body, response.headers.get("content-type", "application/json"))
        return response

    def _leaks_credentials(self, body: bytes) -> bool:
        """A refusal that echoes the provider's key, or talks about it, never reaches the client."""
        if not self.sends_credentials:
            return False
        if self._secret in body:
            return True
        lowered = body[:4096].lower()
        return any(word in lowered for word in _CREDENTIAL_WORDS)

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[bytes, str]:
        """A whole answer and its content type, read before returning."""
        release = self._claim()
        try:
            response = await self._open(method, path, body, headers)
        except BaseException:
            release()
            raise
        try:
            async with asyncio.timeout(self.read_timeout):
                answer = await response.read()
            return answer, response.headers.get("content-type", "application/json")
        except TimeoutError as exc:
            raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(502, UpstreamError.BROKE_OFF, messages.UPSTREAM_BROKE_OFF) from exc
        finally:
            response.release()
            release()

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        release = self._claim()
        try:
            response = await self._open("POST", path, body, headers)
        except BaseException:
            release()
            raise

        def close() -> None:
            response.close()  # close, not release: an abandoned stream must end upstream too
            release()

        async def chunks() -> AsyncIterator[bytes]:
            watchdog = _IdleWatchdog(self.read_timeout, response.close)
            try:
                async for chunk in response.content.iter_any():
                    watchdog.last = watchdog.clock()
                    yield chunk
                if watchdog.fired:
                    raise TimeoutError
            except TimeoutError as exc:
                raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_STOPPED) from exc
            except aiohttp.ClientError as exc:
                if watchdog.fired:
                    raise UpstreamError(504, UpstreamError.TIMEOUT, messages.UPSTREAM_STOPPED) from exc
                raise UpstreamError(502, UpstreamError.BROKE_OFF, messages.UPSTREAM_BROKE_OFF) from exc
            finally:
                watchdog.stop()
                close()

        return Stream(chunks(), close)


class _IdleWatchdog:
    """Calls `on_idle` once nothing has arrived for `timeout` seconds: one timer a timeout, not one a chunk."""

    def __init__(self, timeout: float, on_idle: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self.clock, self.timeout, self.on_idle = loop.time, timeout, on_idle
        self.last, self.fired = loop.time(), False
        self._handle = loop.call_later(timeout, self._check)

    def _check(self) -> None:
        idle = self.clock() - self.last
        if idle >= self.timeout:
            self.fired = True
            self.on_idle()
        else:
            self._handle = asyncio.get_running_loop().call_later(self.timeout - idle, self._check)

    def stop(self) -> None:
        self._handle.cancel()
