"""A small keep-alive HTTP/1.1 load generator on asyncio protocols, fast enough to saturate 10k+ rps."""

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass
class Result:
    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future | None = None
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        start = head.find(b"content-length:")
        if start < 0:  # chunked: wait for the terminating chunk
            if self.buffer.endswith(b"0\r\n\r\n"):
                self._done(int(head[9:12]))
            return
        stop = head.find(b"\r\n", start)
        length = int(head[start + 15 : stop if stop > 0 else None])
        if len(self.buffer) >= end + 4 + length:
            self._done(int(head[9:12]))

    def _done(self, status: int) -> None:
        self.buffer = b""
        if self.waiter and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc) -> None:
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(host: str, port: int, request: bytes, *, concurrency: int, requests: int) -> Result:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker() -> None:
        nonlocal remaining, errors
        _, client = await loop.create_connection(_Client, host, port)
        while remaining > 0:
            remaining -= 1
            client.waiter = loop.create_future()
            started = time.perf_counter()
            client.transport.write(request)
            status = await client.waiter
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1
        client.transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(latencies, time.perf_counter() - started, errors)
