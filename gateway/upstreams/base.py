"""The contract every LLM upstream fulfils: an OpenAI-compatible server, the demo model, API Gateway."""

from gateway.streams import Stream


class BaseUpstream:
    """Something that answers OpenAI's API on Tollgate's behalf.

    Whatever a subclass talks to, its failures come back as the same three exceptions, so the one
    relay in gateway.calls decides what is charged without knowing which upstream answered.
    """

    # -- Must be implemented by subclasses ------------------------------------------------------

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[bytes, str]:
        """The whole answer to `method path` (path after /v1, e.g. "/chat/completions") and its content type.

        Raises UpstreamError when it could not answer: not reached, timed out, failed (5xx), at its
        concurrency limit, or it refused Tollgate's own credentials. Such a request is never charged.
        Raises UpstreamRefused for a 4xx about the request itself, with a body safe to show the client
        (never one that carries a provider's key). Raises AdmissionRefused when the upstream admits
        requests itself (API Gateway's usage plans) and refused this one.
        """
        raise NotImplementedError("subclasses of BaseUpstream must provide a request() method")

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        """Open a streamed answer (server-sent events) to `POST path`.

        Opening raises as request() does. Iterating the stream's chunks yields the raw SSE bytes as
        they arrive and raises UpstreamError if the upstream breaks off or stalls; close() ends the
        upstream request at once (the client left).
        """
        raise NotImplementedError("subclasses of BaseUpstream must provide a stream() method")
