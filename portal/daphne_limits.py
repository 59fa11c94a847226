"""What daphne's Twisted server takes from no command-line flag: request bodies refused as they
arrive rather than held whole in memory, overlong URLs answered with 414 rather than dropped, and
no second parse of every body (Twisted parses form and multipart bodies into request.args, which
daphne never reads: a tenth of each request's time, and a 25 MB upload held twice)."""

import io
import json

from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.web import http

from portal.body_limit import max_request_body

MAX_URL_LINE = 160 * 1024  # /query's longest message, percent-encoded Thai, fits with room to spare


def _refuse(channel: http.HTTPChannel, status: int, reason: bytes, code: str, message: str) -> None:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    channel.transport.write(head % (status, reason, len(body)) + body)
    channel.loseConnection()


def _too_large(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"The request body is larger than {limit // (1024 * 1024)} MiB."
    return f"The request body is larger than {limit} bytes."


def install(*, max_body: int) -> None:
    """Patch daphne's request and Twisted's channel classes; idempotent."""
    if getattr(WebRequest, "_tollgate_limits", False):
        return
    original_got_length, original_process, original_init = WebRequest.gotLength, WebRequest.process, WebRequest.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    def gotLength(self, length):
        self._tollgate_received, self._tollgate_refused = 0, False
        original_got_length(self, length)
        # Only /v1 takes uploads; Django's routes get their own, smaller cap (the path is known by now).
        gateway = (getattr(self.channel, "_path", b"") or b"").startswith(b"/v1")
        self._tollgate_max = max_body if gateway else min(max_body, max_request_body())
        if not gateway:
            self.content = io.BytesIO()  # bounded by that cap: Twisted would spool it to a temporary file
        if length is not None and length > self._tollgate_max:
            self._tollgate_refused = True  # refused from its Content-Length, before a byte of it is read
            _refuse(self.channel, 413, b"Payload Too Large", "body_too_large", _too_large(self._tollgate_max))

    def handleContentChunk(self, data: bytes) -> None:
        if self._tollgate_refused:
            return
        self._tollgate_received += len(data)
        if self._tollgate_received > self._tollgate_max:  # a chunked body gives no length to check first
            self._tollgate_refused = True
            _refuse(self.channel, 413, b"Payload Too Large", "body_too_large", _too_large(self._tollgate_max))
            return
        self.content.write(data)

    def process(self):
        if getattr(self, "_tollgate_refused", False):
            return None
        return original_process(self)

    def lineLengthExceeded(self, line: bytes):
        _refuse(self, 414, b"URI Too Long", "url_too_long", "The URL is too long; send long text in a POST body.")

    WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process = gotLength, handleContentChunk, process
    WebRequest.__init__ = __init__
    # Twisted formats its own access line for each request and discards it; daphne logs its own.
    HTTPFactory.log = lambda self, request: None
    http.HTTPChannel.MAX_LENGTH = MAX_URL_LINE
    http.HTTPChannel.totalHeadersSize = MAX_URL_LINE + 32 * 1024
    http.HTTPChannel.lineLengthExceeded = lineLengthExceeded
    WebRequest._tollgate_limits = True
