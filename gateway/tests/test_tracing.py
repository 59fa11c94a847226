"""Traces by OTLP/HTTP: one per call, with admission, upstream and relay under it, and nothing secret in them."""

import gzip
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from conftest import sqlite_test_url
from gateway import tracing

pytestmark = pytest.mark.django_db(transaction=True)
CHAT = "/v1/chat/completions"


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: it decodes each POST /v1/traces and keeps the spans."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.spans: list[dict] = []
        self.resources: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                status = 404 if self.path != "/v1/traces" else receiver.take(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, body: bytes) -> int:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            self.bodies.append(body)
            for resource_spans in request.resource_spans:
                self.resources.append(_attributes(resource_spans.resource.attributes))
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(_span(span) for span in scope_spans.spans)
        return 200

    def traces(self, roots: int, timeout: float = 10.0) -> dict[bytes, list[dict]]:
        """The spans by trace once `roots` request spans have come, and a moment more for any extra."""
        deadline = time.monotonic() + timeout
        while sum(1 for span in self.spans if not span["parent"]) < roots and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)  # three export delays: a stray span would have come by now
        by_trace: dict[bytes, list[dict]] = defaultdict(list)
        with self.lock:
            for span in self.spans:
                by_trace[span["trace"]].append(span)
        return dict(by_trace)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs) -> dict:
    return {pair.key: _value(pair.value) for pair in pairs}


def _span(span) -> dict:
    return {
        "trace": span.trace_id,
        "id": span.span_id,
        "parent": span.parent_span_id,
        "name": span.name,
        "attributes": _attributes(span.attributes),
        "error": span.status.code == span.status.STATUS_CODE_ERROR,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    instance = Receiver()
    yield instance
    instance.stop()


def trace_of(traces: dict[bytes, list[dict]], request_id: str) -> tuple[dict, dict[str, dict]]:
    """The trace whose request span carries `request_id`: that span, and its children by name."""
    (spans,) = [
        spans
        for spans in traces.values()
        if any(not s["parent"] and s["attributes"].get("tollgate.request_id") == request_id for s in spans)
    ]
    (root,) = [span for span in spans if not span["parent"]]
    children = {span["name"]: span for span in spans if span["parent"]}
    assert len(children) == len(spans) - 1, "no two children share a name"
    assert all(span["parent"] == root["id"] for span in children.values())
    return root, children


def test_each_call_sends_one_trace_with_its_steps_and_no_secrets(
    live_server_factory, live_server_env, user, key_factory, upstream_server, receiver
):
    from keys.models import Plan

    Plan.objects.create(name="2RequestPerDay", requests_per_day=2)
    _, plaintext = key_factory(user, plan_name="2RequestPerDay")
    upstream_server.reset()
    answer_marker, prompt_marker = f"answer-{uuid.uuid4().hex}", f"prompt-{uuid.uuid4().hex}"
    upstream_server.reply = f"Here is {answer_marker} for you"
    env = {
        "DATABASE_URL": sqlite_test_url(),
        **live_server_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "tollgate-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    server = live_server_factory(env)
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": f"Repeat {prompt_marker}"}]}
    streamed_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    try:
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {plaintext}"}, timeout=30) as client:
            whole = client.post(CHAT, json=body)
            streamed = client.post(CHAT, json=streamed_body)
            refused = client.post(CHAT, json=body)
    finally:
        upstream_server.reset()
    assert (whole.status_code, streamed.status_code, refused.status_code) == (200, 200, 429)
    assert answer_marker in whole.text and answer_marker in streamed.text

    traces = receiver.traces(roots=3)
    assert len(traces) == 3, "one trace per call, and none for anything else"
    assert {"service.name": "tollgate-under-test"}.items() <= receiver.resources[0].items()

    for answered, stream in ((whole, False), (streamed, True)):
        root, children = trace_of(traces, answered.headers["x-request-id"])
        assert root["name"] == f"POST {CHAT}" and not root["error"]
        assert set(children) == {"admission", "upstream", "relay"}
        facts = root["attributes"]
        assert facts["http.route"] == CHAT and facts["http.response.status_code"] == 200
        assert facts["gen_ai.request.model"] == "loopback-model" and facts["tollgate.upstream"] == "default"
        assert facts["tollgate.plan"] == "2RequestPerDay" and facts["tollgate.stream"] is stream
        assert facts["gen_ai.usage.input_tokens"] > 0 and facts["gen_ai.usage.output_tokens"] > 0
        assert "tollgate.refusal" not in facts
        upstream = children["upstream"]["attributes"]
        assert upstream["tollgate.upstream"] == "default" and upstream["gen_ai.request.model"] == "loopback-model"
        assert upstream["http.response.status_code"] == 200 and upstream["tollgate.retries"] == 0
        assert children["admission"]["attributes"]["tollgate.plan"] == "2RequestPerDay"
        assert children["relay"]["attributes"]["tollgate.stream"] is stream

    root, children = trace_of(traces, refused.headers["x-request-id"])
    assert root["attributes"]["http.response.status_code"] == 429
    assert root["attributes"]["tollgate.refusal"] == "requests"
    assert set(children) == {"admission"}, "a refused call reaches no upstream"
    assert children["admission"]["attributes"]["tollgate.refusal"] == "requests"

    sent = b"".join(receiver.bodies)
    for secret in (plaintext, prompt_marker, answer_marker, "Repeat", live_server_env["LLM_API_KEY"], "Bearer"):
        assert secret.encode() not in sent, secret


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def call_in_process(key_factory, user) -> httpx.Response:
    from asgiref.sync import sync_to_async

    from portal.asgi import application

    _, plaintext = await sync_to_async(key_factory)(user)
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": "one two"}]}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.post(CHAT, headers={"x-api-key": plaintext}, json=body)


async def test_without_an_endpoint_nothing_is_built_or_set(settings, monkeypatch, user, key_factory, upstream):
    from opentelemetry import context

    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""
    attached = []
    monkeypatch.setattr(context, "attach", lambda *args: attached.append(args))
    answer = await call_in_process(key_factory, user)
    assert answer.status_code == 200
    assert not tracing.enabled()
    assert tracing._provider is None and tracing._tracer is None, "no provider, no tracer"
    assert attached == [], "no span was made current"
    assert tracing.child_begin("admission") is None


async def test_an_unreachable_collector_neither_slows_nor_fails_a_call(
    settings, monkeypatch, user, key_factory, upstream
):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")  # the provider's shutdown at teardown
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    answer = await call_in_process(key_factory, user)
    assert answer.status_code == 200
    assert time.monotonic() - started < 2.0
    assert tracing.enabled() and tracing._provider is not None


async def test_a_chat_turn_is_traced_like_a_call(settings, user, key_factory, upstream, receiver):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from conftest import chat_socket_headers
    from portal.asgi import application

    settings.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url
    key, _ = await sync_to_async(key_factory)(user)
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=await chat_socket_headers(user))
    assert (await communicator.connect())[0]
    marker = f"prompt-{uuid.uuid4().hex}"
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": marker})
    while (await communicator.receive_json_from(timeout=5))["type"] not in ("done", "error"):
        pass
    await communicator.disconnect()
    assert tracing._provider.force_flush()

    traces = receiver.traces(roots=1)
    assert len(traces) == 1
    (spans,) = traces.values()
    (root,) = [span for span in spans if not span["parent"]]
    assert root["name"] == "chat.turn" and root["attributes"]["http.response.status_code"] == 200
    assert root["attributes"]["tollgate.plan"] == "10RequestPerDay"
    assert {span["name"] for span in spans if span["parent"] == root["id"]} == {"admission", "upstream", "relay"}
    assert marker.encode() not in b"".join(receiver.bodies)


async def test_query_is_traced_like_a_call(settings, user, key_factory, upstream, receiver):
    from asgiref.sync import sync_to_async

    from portal.asgi import application

    settings.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url
    _, plaintext = await sync_to_async(key_factory)(user)
    marker = f"prompt-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://localhost") as client:
        answer = await client.get("/query", params={"uuid": "q", "message": marker}, headers={"x-api-key": plaintext})
    assert answer.status_code == 200
    assert tracing._provider.force_flush()

    (spans,) = receiver.traces(roots=1).values()
    (root,) = [span for span in spans if not span["parent"]]
    assert root["name"] == "GET /query" and root["attributes"]["tollgate.request_id"] == answer.headers["x-request-id"]
    assert {span["name"] for span in spans if span["parent"] == root["id"]} == {"admission", "upstream", "relay"}
    assert marker.encode() not in b"".join(receiver.bodies) and plaintext.encode() not in b"".join(receiver.bodies)
