"""The seed's streamed endpoint, GET /query, under a live daphne."""

import time

import httpx
import pytest

from chat.models import Conversation, Message
from keys.metering import utc_today
from keys.models import QuotaCounter

pytestmark = pytest.mark.django_db(transaction=True)


def query(live, key: str, message: str = "hello", uuid: str = "3f1c2f0e-9d2a-4c39-9a51-0a9d7f4e2b11"):
    return httpx.stream(
        "GET",
        live.url + "/query",
        params={"uuid": uuid, "message": message},
        headers={"x-api-key": key, "accept": "text/event-stream"},
    )


def test_query_streams_plain_text_in_pieces_and_keeps_the_conversation(live, user, key_factory, upstream_server):
    upstream_server.reset()
    upstream_server.chunk_gap = 0.05
    key, plaintext = key_factory(user)
    pieces, stamps = [], []
    with query(live, plaintext) as response:
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining-requests"] == "9"
        for text in response.iter_text():
            pieces.append(text)
            stamps.append(time.monotonic())
    assert "".join(pieces) == upstream_server.reply
    assert len(pieces) > 3 and stamps[-1] - stamps[0] > 0.2
    conversation = Conversation.objects.get(owner=user)
    assert str(conversation.uuid) == "3f1c2f0e-9d2a-4c39-9a51-0a9d7f4e2b11"
    assert list(Message.objects.values_list("role", flat=True)) == ["user", "assistant"]
    upstream_server.reset()
    with query(live, plaintext, "again") as response:
        response.read()
    assert len(upstream_server.requests[-1]["json"]["messages"]) == 3


def test_query_past_the_quota_is_429_limit_exceeded(live, user, key_factory, upstream_server):
    key, plaintext = key_factory(user)
    QuotaCounter.objects.create(owner_id=user.pk, plan=key.plan, day=utc_today(), used=10)
    with query(live, plaintext) as response:
        body = response.read()
    assert response.status_code == 429 and b"Limit Exceeded" in body


def test_query_needs_a_key_and_a_message(live, user, key_factory):
    _, plaintext = key_factory(user)
    assert httpx.get(live.url + "/query", params={"message": "x"}).status_code == 401
    response = httpx.get(live.url + "/query", params={"uuid": "a"}, headers={"x-api-key": plaintext})
    assert response.status_code == 400 and "message" in response.json()["message"]
    assert not QuotaCounter.objects.filter(used__gt=0).exists()


def test_query_upstream_failure_is_502_and_refunded(live, user, key_factory, upstream_server):
    upstream_server.reset()
    upstream_server.fail_status = 500
    try:
        _, plaintext = key_factory(user)
        with query(live, plaintext) as response:
            response.read()
        assert response.status_code == 502 and "Something went wrong" in response.json()["message"]
        assert QuotaCounter.objects.get().used == 0
    finally:
        upstream_server.reset()


def test_query_client_leaving_ends_the_upstream_stream(live, user, key_factory, upstream_server):
    upstream_server.reset()
    upstream_server.chunk_gap = 0.1
    _, plaintext = key_factory(user)
    with query(live, plaintext) as response:
        next(response.iter_bytes())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and upstream_server.streams_abandoned == 0:
        time.sleep(0.05)
    assert upstream_server.streams_abandoned == 1 and upstream_server.streams_finished == 0
    upstream_server.reset()
