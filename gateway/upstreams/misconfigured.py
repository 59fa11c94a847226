"""An upstream that must not be called: its key cannot be used here. It fails at once, never sending a request."""

from gateway import messages
from gateway.errors import UpstreamError
from gateway.streams import Stream
from gateway.upstreams.base import BaseUpstream


class MisconfiguredUpstream(BaseUpstream):
    """Stands in for an upstream whose credentials are unusable, so no call goes out without them."""

    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[bytes, str]:
        raise UpstreamError(503, UpstreamError.MISCONFIGURED, messages.UPSTREAM_MISCONFIGURED)

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        raise UpstreamError(503, UpstreamError.MISCONFIGURED, messages.UPSTREAM_MISCONFIGURED)
