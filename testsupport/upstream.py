"""A loopback OpenAI-compatible server speaking SSE as OpenAI does: fast, with controllable delays and failures.

Used by the tests as the LLM upstream and by bench/ as the thing the gateway stands in front of.
Run alone: python -m testsupport.upstream --port 9100

The model name steers one request: "fail-500" answers 500, "fail-400" answers 400, "echo-400" answers
400 echoing the Authorization header it was sent, "fail-close" drops
the connection, "slow-<ms>" waits before answering, "gap-<ms>" waits between streamed chunks, and
"quota-429" / "throttle-429" answer as AWS API Gateway does past a usage plan's quota or throttle,
"break-<n>" streams n words and then drops the connection, and "no-usage" never reports usage.
Server-wide defaults (reply, chunk_gap, fail_status, refuse_credentials) can be changed by a test
while it runs. Besides chat it answers OpenAI's other endpoints (testsupport/openai_shapes.py).
"""

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testsupport import openai_shapes  # noqa: E402

REPLY = "Hello from the loopback model. It streams this answer word by word."


class Upstream:
    """State shared by every connection: defaults, and a record of what was asked."""

    def __init__(self, reply: str = REPLY, record: bool = True) -> None:
        self.reply = self.default_reply = reply
        self.chunk_gap = 0.0
        self.fail_status = 0
        self.refuse_credentials = False  # answer 401, echoing the key it was sent, as some servers do
        self.stamp = False  # bench/streams.py: each streamed chunk carries the time it was sent
        self.record = record
        self.requests: list[dict] = []
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_abandoned = 0  # the client (the gateway) went away mid-stream
        self.in_flight = self.most_in_flight = 0  # slow and streamed answers being made at once
        self.host = "127.0.0.1"
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def reset(self) -> None:
        self.reply, self.chunk_gap, self.fail_status, self.refuse_credentials = self.default_reply, 0.0, 0, False
        self.requests.clear()
        self.streams_started = self.streams_finished = self.streams_abandoned = 0
        self.in_flight = self.most_in_flight = 0

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024)
        self.host, self.port = host, self._server.sockets[0].getsockname()[1]

    def start_in_thread(self) -> "Upstream":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True, name="loopback-upstream").start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)


def _response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    reasons = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 429: b"Too Many Requests", 500: b"Server Error"}
    reason = reasons.get(status, b"Error")
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (status, reason, content_type, len(body))
        + body
    )


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Connection(asyncio.Protocol):
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head[0].split(" ", 2)
            self._handle(method, path, headers, body)

    def _handle(self, method: str, path: str, headers: dict, body: bytes) -> None:
        upstream = self.upstream
        multipart = headers.get("content-type", "").startswith("multipart/")
        payload = _multipart_fields(body) if multipart else json.loads(body) if body else {}
        if upstream.record:
            upstream.requests.append({"method": method, "path": path, "headers": headers, "json": payload})
        if upstream.refuse_credentials:
            echo = {"error": {"message": f"Incorrect API key provided: {headers.get('authorization', '')}"}}
            return self.transport.write(_response(401, json.dumps(echo).encode()))
        if path.endswith("/models"):
            models = {
                "object": "list",
                "data": [{"id": "loopback-model", "object": "model", "created": 0, "owned_by": "tests"}],
            }
            return self.transport.write(_response(200, json.dumps(models).encode()))
        model = str(payload.get("model") or "")
        if not path.endswith("/chat/completions"):
            return self._other(path, payload, model)
        if model == "fail-close":
            return self.transport.close()
        if model == "echo-400":  # a provider that echoes the key it was sent in a 400, as some do
            echo = {"error": {"message": f"Bad request with key {headers.get('authorization', '')}"}}
            return self.transport.write(_response(400, json.dumps(echo).encode()))
        if model in ("quota-429", "throttle-429"):  # what AWS API Gateway answers past a usage plan
            message = b"Limit Exceeded" if model == "quota-429" else b"Too Many Requests"
            return self.transport.write(_response(429, b'{"message": "%s"}' % message))
        status = 500 if model == "fail-500" else 400 if model == "fail-400" else upstream.fail_status
        if status:
            error = {"error": {"message": f"loopback failure {status}", "type": "server_error", "code": None}}
            return self.transport.write(_response(status, json.dumps(error).encode()))
        delay = int(model[5:]) / 1000 if model.startswith("slow-") else 0.0
        gap = int(model[4:]) / 1000 if model.startswith("gap-") else upstream.chunk_gap
        if model.startswith("break-") or model == "no-usage":  # break-N: N words, then the connection drops
            gap = gap or 0.01
        if payload.get("stream") or delay:
            self.busy = True
            asyncio.get_running_loop().create_task(self._slow(payload, model, delay, gap))
            return
        self.transport.write(_response(200, json.dumps(_completion(payload, model, upstream.reply)).encode()))

    def _other(self, path: str, payload: dict, model: str) -> None:
        upstream = self.upstream
        if upstream.fail_status or model == "fail-500":
            status = upstream.fail_status or 500
            return self.transport.write(_response(status, b'{"error": {"message": "loopback failure"}}'))
        if payload.get("stream"):
            events = openai_shapes.stream_events(path, payload, model, upstream.reply)
            if events is not None:
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    + b"".join(_chunk(event) for event in events)
                    + b"0\r\n\r\n"
                )
                return
        answer = openai_shapes.whole(path, payload, model, upstream.reply)
        if answer is None:
            return self.transport.write(_response(404, b'{"error": {"message": "not found"}}'))
        content_type, body = answer
        self.transport.write(_response(200, body, content_type))

    async def _slow(self, payload: dict, model: str, delay: float, gap: float) -> None:
        upstream = self.upstream
        upstream.in_flight += 1
        upstream.most_in_flight = max(upstream.most_in_flight, upstream.in_flight)
        try:
            if delay:
                await asyncio.sleep(delay)
            if self.closed:
                return
            if not payload.get("stream"):
                self.transport.write(
                    _response(200, json.dumps(_completion(payload, model, self.upstream.reply)).encode())
                )
                return
            await self._stream(payload, model, gap)
        finally:
            upstream.in_flight -= 1
            self.busy = False
            if not self.closed:
                self._process()

    async def _stream(self, payload: dict, model: str, gap: float) -> None:
        upstream = self.upstream
        upstream.streams_started += 1
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        ident, created = f"chatcmpl-loop{time.monotonic_ns()}", int(time.time())
        words = upstream.reply.split(" ")

        def event(choices: list, usage: dict | None = None) -> bytes:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if usage is not None:
                chunk["usage"] = usage
            if upstream.stamp:
                chunk["x_sent"] = time.time()
            return _chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        self.transport.write(
            event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        )
        cut = int(model[6:]) if model.startswith("break-") else None
        for index, word in enumerate(words):
            if gap:
                await asyncio.sleep(gap)
            if self.closed:
                upstream.streams_abandoned += 1
                return
            if index == cut:
                self.transport.abort()
                return
            text = word if index == 0 else " " + word
            self.transport.write(event([{"index": 0, "delta": {"content": text}, "finish_reason": None}]))
        self.transport.write(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if (payload.get("stream_options") or {}).get("include_usage") and model != "no-usage":
            self.transport.write(event([], _usage(payload, len(words))))
        self.transport.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        upstream.streams_finished += 1


_FIELD = re.compile(rb'name="([^"]+)"(?:; filename="[^"]*")?\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--', re.S)


def _multipart_fields(body: bytes) -> dict:
    """The fields of a multipart body (enough to see which model was asked for)."""
    return {name.decode(): value.decode("utf-8", "replace") for name, value in _FIELD.findall(body)}


def _usage(payload: dict, completion: int) -> dict:
    prompt = sum(len(str(m.get("content", "")).split()) for m in payload.get("messages", []))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(payload: dict, model: str, reply: str) -> dict:
    answer = {
        "id": f"chatcmpl-loop{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": _usage(payload, len(reply.split())),
    }
    if model == "no-usage":  # a server that reports no usage at all
        del answer["usage"]
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--words", type=int, default=0, help="answer with this many words (streamed: chunks)")
    parser.add_argument("--stamp", action="store_true", help="stamp each streamed chunk with its send time")
    args = parser.parse_args()
    upstream = Upstream(reply=" ".join(["word"] * args.words) if args.words else REPLY, record=False)
    upstream.stamp = args.stamp

    async def run() -> None:
        await upstream.serve(port=args.port)
        print(f"loopback upstream on {upstream.base_url}", flush=True)
        await asyncio.Event().wait()

    try:
        with asyncio.Runner(loop_factory=fast_loop()) as runner:
            runner.run(run())
    except KeyboardInterrupt:
        pass


def fast_loop():
    # uvloop (from uvicorn[standard]) when present: a bench upstream spends less of the shared cores.
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
