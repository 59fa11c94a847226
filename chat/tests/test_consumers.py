"""The chat WebSocket consumer, through the full ASGI stack (session auth and origin check)."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Conversation, Message
from conftest import chat_socket_headers
from keys.metering import utc_today
from keys.models import QuotaCounter
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


async def session_cookie_for(user) -> bytes:
    return dict(await chat_socket_headers(user))[b"cookie"]


async def connect(user=None) -> WebsocketCommunicator:
    headers = [ORIGIN, HOST]
    if user is not None:
        headers.append((b"cookie", await session_cookie_for(user)))
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def collect(communicator, until=("done", "error", "stopped"), wait: float = 5) -> list[dict]:
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=wait)
        frames.append(frame)
        if frame["type"] in until:
            return frames


@pytest.fixture
def make_key(key_factory):
    return database_sync_to_async(key_factory)


async def test_a_message_streams_back_and_is_kept(user, make_key, upstream):
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "Hello?"})
    frames = await collect(communicator)
    assert frames[0]["type"] == "started" and frames[0]["title"] == "Hello?"
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == upstream.reply
    done = frames[-1]
    assert done["type"] == "done" and done["remaining"] == 9 and done["limit"] == 10
    assert "<p>Hello from the loopback model" in done["html"]
    conversation = await Conversation.objects.aget(pk=frames[0]["conversation"])
    roles = [m.role async for m in Message.objects.filter(conversation=conversation)]
    assert roles == ["user", "assistant"]
    # The next message sends the conversation so far.
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": conversation.pk, "content": "More"})
    await collect(communicator)
    sent = upstream.requests[-1]["json"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"] and sent[-1]["content"] == "More"
    assert upstream.requests[-1]["headers"]["authorization"] == "Bearer provider-secret-never-shown"
    await communicator.disconnect()


async def test_stop_ends_generation_and_the_upstream_request(user, make_key, upstream):
    upstream.chunk_gap = 0.1
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "long"})
    frames = await collect(communicator, until=("delta",))
    await communicator.send_json_to({"type": "stop"})
    frames = await collect(communicator)
    assert frames[-1]["type"] == "stopped"
    for _ in range(50):
        if upstream.streams_abandoned:
            break
        await asyncio.sleep(0.05)
    assert upstream.streams_abandoned == 1 and upstream.streams_finished == 0
    await communicator.disconnect()
    from chat.models import Message

    for _ in range(50):  # the part that arrived is kept, marked as stopped, off the socket's path
        kept = [m async for m in Message.objects.filter(role="assistant")]
        if kept:
            break
        await asyncio.sleep(0.05)
    assert len(kept) == 1 and kept[0].stopped and kept[0].content


async def test_limit_exceeded_frame_past_the_quota(user, make_key, upstream):
    key, _ = await make_key(user)
    await QuotaCounter.objects.acreate(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=10)
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi"})
    frame = await communicator.receive_json_from()
    assert frame["type"] == "error" and frame["code"] == "limit_exceeded" and frame["message"] == "Limit Exceeded"
    assert "resets at" in frame["detail"] and "00:00 UTC" in frame["detail"] and frame["resets_in"] > 0
    assert upstream.requests == []
    await communicator.disconnect()


async def test_upstream_failure_is_refunded_and_can_be_retried(user, make_key, upstream):
    upstream.fail_status = 500
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi"})
    frames = await collect(communicator)
    assert frames[-1]["code"] == "upstream_error" and frames[-1]["retry"] is True
    assert (await QuotaCounter.objects.aget()).used == 0
    upstream.fail_status = 0
    await communicator.send_json_to({"type": "retry", "key": key.pk, "conversation": frames[0]["conversation"]})
    frames = await collect(communicator)
    assert frames[-1]["type"] == "done"
    assert await Message.objects.filter(role="user").acount() == 1  # retry does not repeat the question
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"type": "dance"}',
        '{"type": "send", "key": "x", "content": "hi"}',
        '{"type": "send", "key": 1, "content": ""}',
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(user, make_key, upstream, frame):
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "bad_request"
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "still here?"})
    assert (await collect(communicator))[-1]["type"] == "done"
    await communicator.disconnect()


async def test_unauthenticated_sockets_are_closed(plans):
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, HOST])
    connected, code = await communicator.connect()
    assert not connected and code == 4401


@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"http://localhost:1234",  # the same host on another port is another site
        b"https://localhost",  # and so is another scheme
        b"null",
        b"",
    ],
)
async def test_an_origin_other_than_the_site_itself_is_refused(user, origin):
    headers = [(b"origin", origin), HOST, (b"cookie", await session_cookie_for(user))]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


async def test_the_sites_own_origin_with_its_port_is_accepted(user):
    cookie = (b"cookie", await session_cookie_for(user))
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), cookie]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


async def test_someone_elses_key_and_a_revoked_key_are_refused(user, other_user, make_key, upstream):
    from keys.services import key_revoke

    bob_key, _ = await make_key(other_user)
    my_key, _ = await make_key(user)
    await database_sync_to_async(key_revoke)(key=my_key)
    communicator = await connect(user)
    for key in (bob_key, my_key):
        await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi"})
        frame = await communicator.receive_json_from()
        assert frame["code"] == "invalid_key"
    assert upstream.requests == []
    assert not await QuotaCounter.objects.filter(used__gt=0).aexists()
    await communicator.disconnect()


async def test_someone_elses_conversation_is_not_found_and_not_charged(user, other_user, make_key, upstream):
    key, _ = await make_key(user)
    theirs = await Conversation.objects.acreate(owner=other_user, title="private")
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": theirs.pk, "content": "hi"})
    frames = await collect(communicator)
    assert frames[-1]["code"] == "not_found"
    assert await Message.objects.filter(conversation=theirs).acount() == 0
    assert (await QuotaCounter.objects.aget()).used == 0
    await communicator.disconnect()


@pytest.fixture
def aws_gateway(aws, upstream, settings):
    """KEYS_BACKEND=aws, with the loopback server standing where AWS API Gateway would forward to the LLM."""
    settings.AWS_API_GATEWAY_URL = upstream.base_url
    return upstream


async def test_with_aws_the_users_key_goes_to_api_gateway_and_no_local_quota_is_spent(user, make_key, aws_gateway):
    key, plaintext = await make_key(user)
    communicator = await connect(user)
    frame = {"type": "send", "key": key.pk, "conversation": None, "content": "hi", "api_key": plaintext}
    await communicator.send_json_to(frame)
    frames = await collect(communicator)
    assert frames[-1]["type"] == "done" and frames[-1]["remaining"] is None
    sent = aws_gateway.requests[-1]["headers"]
    assert sent["x-api-key"] == plaintext and "authorization" not in sent
    from django.conf import settings

    assert aws_gateway.requests[-1]["json"]["model"] == (settings.LLM_MODEL or "default")
    assert not await QuotaCounter.objects.aexists()
    await communicator.disconnect()


@pytest.mark.parametrize(("model", "code"), [("quota-429", "limit_exceeded"), ("throttle-429", "too_many_requests")])
async def test_with_aws_api_gateways_429_reaches_the_user(user, make_key, aws_gateway, settings, model, code):
    settings.LLM_MODEL = model
    key, plaintext = await make_key(user)
    communicator = await connect(user)
    frame = {"type": "send", "key": key.pk, "conversation": None, "content": "hi", "api_key": plaintext}
    await communicator.send_json_to(frame)
    error = (await collect(communicator))[-1]
    assert error["code"] == code
    assert error["message"] == ("Limit Exceeded" if code == "limit_exceeded" else "Too Many Requests")
    await communicator.disconnect()


async def test_with_aws_a_missing_or_foreign_key_is_refused(user, other_user, make_key, aws_gateway):
    mine, _ = await make_key(user)
    _, theirs = await make_key(other_user)
    communicator = await connect(user)
    for api_key in (None, "", theirs):
        frame = {"type": "send", "key": mine.pk, "conversation": None, "content": "hi", "api_key": api_key}
        await communicator.send_json_to(frame)
        assert (await communicator.receive_json_from())["code"] == "invalid_key"
    assert aws_gateway.requests == []
    await communicator.disconnect()


async def test_an_unexpected_failure_answers_and_refunds(user, make_key, upstream, monkeypatch):
    from chat import answers

    async def broken(**kwargs):
        raise RuntimeError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr(answers, "reply_stream", broken)
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi"})
    frame = await communicator.receive_json_from()
    assert frame["code"] == "upstream_error" and frame["retry"] is True
    assert (await QuotaCounter.objects.aget()).used == 0
    await communicator.disconnect()


async def test_a_throttled_message_is_refused_and_not_charged(user, upstream, plans):
    from keys.models import Plan
    from keys.services import key_create

    await database_sync_to_async(Plan.objects.create)(
        name="Throttled", requests_per_day=10, throttle_rate=0.01, throttle_burst=1
    )
    key, _ = await database_sync_to_async(key_create)(owner=user, plan_name="Throttled")
    communicator = await connect(user)
    frame = {"type": "send", "key": key.pk, "conversation": None, "content": "one"}
    await communicator.send_json_to(frame)
    assert (await collect(communicator))[-1]["type"] == "done"
    await communicator.send_json_to({**frame, "content": "two"})
    error = (await collect(communicator))[-1]
    assert error["code"] == "too_many_requests" and error["detail"] == "Slow down a little."
    counter = await database_sync_to_async(QuotaCounter.objects.get)(owner_id=user.pk, plan_id=key.plan_id)
    assert counter.used == 1
    await communicator.disconnect()


async def test_the_chosen_model_is_routed_and_the_conversation_remembers_it(user, make_key, two_upstream_catalogue):
    first_server, second_server = two_upstream_catalogue
    key, _ = await make_key(user, "20RequestPerDay")  # grants every model
    communicator = await connect(user)
    await communicator.send_json_to(
        {"type": "send", "key": key.pk, "conversation": None, "content": "hi", "model": "second"}
    )
    frames = await collect(communicator)
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "Second upstream here."
    assert second_server.requests[-1]["json"]["model"] == "second" and first_server.requests == []
    conversation = await Conversation.objects.aget(pk=frames[0]["conversation"])
    assert conversation.model == "second"
    await communicator.disconnect()


async def test_a_model_the_plan_does_not_grant_is_refused_uncharged(user, make_key, two_upstream_catalogue):
    key, _ = await make_key(user, "10RequestPerDay")  # grants only 'first'
    communicator = await connect(user)
    await communicator.send_json_to(
        {"type": "send", "key": key.pk, "conversation": None, "content": "hi", "model": "second"}
    )
    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == "model_not_found" and "first" in error["message"]
    assert not await QuotaCounter.objects.filter(used__gt=0).aexists()
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi", "model": 5})
    assert (await communicator.receive_json_from(timeout=5))["message"] == "'model' must be a model name."
    await communicator.disconnect()


async def test_a_deeply_nested_frame_gets_an_error_frame_not_a_closed_socket(user, make_key, upstream):
    key, _ = await make_key(user)
    communicator = await connect(user)
    await communicator.send_to(text_data="[" * 100_000 + "]" * 100_000)
    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == "bad_request"
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "still here?"})
    assert (await collect(communicator))[-1]["type"] == "done"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("language", "limit_words", "detail_words"),
    [
        ((b"cookie", b"django_language=th"), "เกินโควตาแล้ว", "เริ่มนับใหม่เวลา"),
        ((b"accept-language", b"th-TH,th;q=0.9,en;q=0.5"), "เกินโควตาแล้ว", "เริ่มนับใหม่เวลา"),
        ((b"accept-language", b"en-GB,en;q=0.9"), "Limit Exceeded", "resets at"),
    ],
)
async def test_the_socket_speaks_the_pages_language(user, make_key, upstream, language, limit_words, detail_words):
    key, _ = await make_key(user)
    await QuotaCounter.objects.acreate(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=10)
    headers = [ORIGIN, HOST, language]
    cookie = await session_cookie_for(user)
    if language[0] == b"cookie":
        headers = [ORIGIN, HOST, (b"cookie", cookie + b"; " + language[1])]
    else:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "hi"})
    frame = (await collect(communicator))[-1]
    assert frame["code"] == "limit_exceeded" and frame["message"] == limit_words and detail_words in frame["detail"]
    assert "00:00 UTC" in frame["detail"]  # the plan's period ends at midnight in its zone
    await communicator.send_json_to({"type": "dance"})
    unknown = (await collect(communicator))[-1]
    assert ("ไม่รู้จักชนิดเฟรม" in unknown["message"]) == (limit_words != "Limit Exceeded")
    await communicator.disconnect()


async def test_the_chat_obeys_a_keys_addresses_and_cap(user, make_key, upstream):
    from keys.services import key_scopes_set

    key, _ = await make_key(user)
    await database_sync_to_async(key_scopes_set)(key=key, allowed_ips=["198.51.100.0/24"], max_requests=1)
    headers = [ORIGIN, HOST, (b"cookie", await session_cookie_for(user))]
    elsewhere = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    elsewhere.scope["client"] = ("203.0.113.5", 5000)  # the browser's address, as daphne gives it
    assert (await elsewhere.connect())[0]
    await elsewhere.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "Hi"})
    frame = (await collect(elsewhere))[-1]
    assert frame["code"] == "ip_not_allowed" and "Keys page" in frame["message"]
    await elsewhere.disconnect()
    allowed = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    allowed.scope["client"] = ("198.51.100.7", 5000)
    assert (await allowed.connect())[0]
    await allowed.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "Hi"})
    assert (await collect(allowed))[-1]["type"] == "done"
    await allowed.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "Again"})
    capped = (await collect(allowed))[-1]
    assert capped["code"] == "limit_exceeded" and "capped at 1 requests" in capped["detail"]
    await allowed.disconnect()
    assert len(upstream.requests) == 1
