"""Every kind of call writes one row with the right fields, and never the text of the call.

The faces begin a note of each call (gateway.notes), the gateway's door fills it in, and its end is the row.
"""

import asyncio
import time
import uuid

import httpx
import openai
import pytest
from channels.testing import WebsocketCommunicator

from conftest import chat_socket_headers
from keys.metering import utc_today
from keys.models import QuotaCounter
from requestlog.models import FIELDS, RequestLog

pytestmark = pytest.mark.django_db(transaction=True)


def _rows_of(user, count: int = 1, wait: float = 6.0) -> list[RequestLog]:
    """The user's rows once `count` have been written (the writer flushes about once a second)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        rows = list(RequestLog.objects.filter(user_id=user.pk).order_by("time", "id"))
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    return list(RequestLog.objects.filter(user_id=user.pk).order_by("time", "id"))


def _dump() -> str:
    return "\n".join(repr(row) for row in RequestLog.objects.values_list(*FIELDS))


def test_a_v1_call_writes_one_row_with_every_field_and_no_text(live, user, key_factory, upstream_server):
    upstream_server.reset()
    key, plaintext = key_factory(user)
    marker = f"marker-{uuid.uuid4().hex}"
    response = httpx.post(
        live.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {plaintext}"},
        json={"model": "loopback-model", "messages": [{"role": "user", "content": marker}]},
    )
    assert response.status_code == 200
    (row,) = _rows_of(user)
    assert row.request_id == response.headers["x-request-id"]
    assert (row.key_prefix, row.endpoint, row.model, row.status, row.refusal, row.stream) == (
        key.public_prefix,
        "/v1/chat/completions",
        "loopback-model",
        200,
        "",
        False,
    )
    assert row.upstream and row.client_ip == "127.0.0.1"
    assert row.prompt_tokens > 0 and row.completion_tokens > 0
    assert 0 <= row.ttfb_ms <= row.latency_ms
    dump = _dump()
    assert marker not in dump and plaintext not in dump and upstream_server.reply not in dump


def test_a_refused_v1_call_writes_its_row_with_the_refusal_code(live, user, key_factory, upstream_server):
    key, plaintext = key_factory(user)
    QuotaCounter.objects.create(owner_id=user.pk, plan=key.plan, day=utc_today(), used=10)
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="loopback-model", messages=[{"role": "user", "content": "hi"}])
    (row,) = _rows_of(user)
    assert (row.status, row.refusal, row.key_prefix, row.prompt_tokens) == (429, "requests", key.public_prefix, 0)


def test_a_query_call_writes_one_streamed_row(live, user, key_factory, upstream_server):
    upstream_server.reset()
    key, plaintext = key_factory(user)
    marker = f"marker-{uuid.uuid4().hex}"
    with httpx.stream(
        "GET",
        live.url + "/query",
        params={"uuid": str(uuid.uuid4()), "message": marker},
        headers={"x-api-key": plaintext},
    ) as response:
        response.read()
    assert response.status_code == 200
    (row,) = _rows_of(user)
    assert (row.endpoint, row.stream, row.status, row.key_prefix) == ("/query", True, 200, key.public_prefix)
    assert row.completion_tokens > 0 and row.ttfb_ms <= row.latency_ms
    assert marker not in _dump()


async def test_a_chat_turn_writes_one_row(user, key_factory, upstream):
    from asgiref.sync import sync_to_async

    from portal.asgi import application
    from requestlog.writer import request_log_flush

    key, _ = await sync_to_async(key_factory)(user)
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=await chat_socket_headers(user))
    assert (await communicator.connect())[0]
    marker = f"marker-{uuid.uuid4().hex}"
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": marker})
    while (await communicator.receive_json_from(timeout=5))["type"] not in ("done", "error", "stopped"):
        pass
    await communicator.disconnect()
    await asyncio.sleep(0)
    await sync_to_async(request_log_flush)()
    rows = [row async for row in RequestLog.objects.filter(user_id=user.pk)]
    assert len(rows) == 1
    assert (rows[0].endpoint, rows[0].stream, rows[0].status, rows[0].key_prefix) == (
        "/ws/chat/",
        True,
        200,
        key.public_prefix,
    )
    assert marker not in await sync_to_async(_dump)()


async def test_a_refused_chat_turn_and_an_unknown_model_write_their_rows(user, key_factory, upstream):
    from asgiref.sync import sync_to_async

    from portal.asgi import application
    from requestlog.writer import request_log_flush

    key, _ = await sync_to_async(key_factory)(user)
    await QuotaCounter.objects.acreate(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=10)
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=await chat_socket_headers(user))
    assert (await communicator.connect())[0]
    for model in ("loopback-model", None):
        frame = {"type": "send", "key": key.pk, "conversation": None, "content": "hi", "model": model}
        await communicator.send_json_to(frame)
        assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
    await communicator.disconnect()
    await sync_to_async(request_log_flush)()
    rows = [(r.status, r.refusal, r.endpoint) async for r in RequestLog.objects.filter(user_id=user.pk)]
    assert sorted(rows) == [(429, "requests", "/ws/chat/"), (429, "requests", "/ws/chat/")]
