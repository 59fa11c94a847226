"""What an upstream can answer besides success: a failure (never charged) or a refusal of the request."""


class UpstreamError(Exception):
    """The upstream could not answer: not reached, timed out, or failed with 5xx. Never charged.

    `code` says which, for callers to decide by; `message` is for people.
    """

    TIMEOUT, UNREACHABLE, FAILED, BROKE_OFF = "timeout", "unreachable", "failed", "broke_off"
    CREDENTIALS = "credentials_refused"
    BUSY = "at_capacity"
    MISCONFIGURED = "upstream_misconfigured"  # its key cannot be used here: never called without it

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class UpstreamRefused(Exception):
    """The upstream answered 4xx about the request itself; its answer is passed on to the client as it is."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


class AdmissionRefused(Exception):
    """An upstream that admits requests itself (API Gateway's usage plans) refused this one; `code` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
