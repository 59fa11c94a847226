"""An open streamed answer from an upstream."""

from collections.abc import AsyncIterator, Callable


class Stream:
    """An open streamed answer: iterate chunks() for raw SSE bytes as they arrive; close() to abort."""

    def __init__(self, chunks: AsyncIterator[bytes], close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._close = close

    def chunks(self) -> AsyncIterator[bytes]:
        return self._chunks

    def close(self) -> None:
        self._close()
