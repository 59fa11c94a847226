"""Generated JSON against every /v1 endpoint and generated frames against /ws/chat/: no 5xx, no dead socket."""

import json

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import chat_socket_headers
from gateway.endpoints import ENDPOINTS
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
fields = st.sampled_from(["model", "messages", "stream", "stream_options", "prompt", "input", "role", "content"])
bodies = st.dictionaries(fields, values, max_size=6) | values
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def plaintext(user, key_factory, upstream):
    return key_factory(user, "30RequestPerDay")[1]


@FUZZ
@given(path=st.sampled_from(sorted(ENDPOINTS)), body=bodies, raw=st.binary(max_size=64) | st.none())
def test_no_body_gets_a_server_error_on_v1(plaintext, path, body, raw):
    content = raw if raw is not None else json.dumps(body).encode()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            headers = {"x-api-key": plaintext, "content-type": "application/json"}
            return await client.post(path, headers=headers, content=content)

    response = async_to_sync(call)()
    assert response.status_code < 500 or response.status_code in (502, 504), (path, content, response.text)
    assert response.headers["content-type"].startswith(("application/json", "text/event-stream", "audio/"))


frames = (
    st.dictionaries(
        st.sampled_from(["type", "key", "conversation", "content", "model", "api_key"]),
        scalars | st.sampled_from(["send", "retry", "stop"]),
        max_size=6,
    )
    | values
)


@FUZZ
@given(frame=frames, raw=st.text(min_size=1, max_size=40) | st.none())
def test_no_frame_breaks_the_chat_socket(user, plaintext, frame, raw):
    async def exchange() -> list[dict]:
        communicator = WebsocketCommunicator(application, "/ws/chat/", headers=await chat_socket_headers(user))
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_to(text_data=raw if raw is not None else json.dumps(frame))
        answers = []
        while not await communicator.receive_nothing(timeout=0.3):
            answers.append(await communicator.receive_json_from())
        await communicator.send_to(text_data=json.dumps({"type": "nonsense"}))
        answers.append(await communicator.receive_json_from(timeout=3))  # the socket still answers
        await communicator.disconnect()
        return answers

    answers = async_to_sync(exchange)()
    assert answers[-1]["code"] == "bad_request"
    assert all(a["type"] in ("started", "delta", "done", "error", "stopped") for a in answers)
