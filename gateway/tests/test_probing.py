"""Each hole found by probing the gateway as an attacker would, tested as it was found."""

import json
import socket
import time

import httpx
import pytest

from keys.models import QuotaCounter
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
HI = [{"role": "user", "content": "hi"}]


async def post(key: str, body: bytes, path: str = "/v1/chat/completions") -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        headers = {"x-api-key": key, "content-type": "application/json"}
        return await client.post(path, headers=headers, content=body)


@pytest.fixture
def plaintext(user, key_factory):
    return key_factory(user)[1]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"stream": True, "stream_options": "x", "messages": HI}, "'stream_options' must be an object"),
        ({"stream": "false", "messages": HI}, "'stream' must be true or false"),
        ({"messages": [{"role": 1, "content": {}}]}, "'role' must be a string"),
        ({"messages": [{"role": "user", "content": {}}]}, "'content' must be a string"),
        ({"messages": HI, "model": ["x"]}, "'model' must be a string"),
    ],
)
async def test_fields_of_the_wrong_type_are_400_and_not_charged(plaintext, upstream, payload, words):
    response = await post(plaintext, json.dumps(payload).encode())
    assert response.status_code == 400 and words in response.json()["error"]["message"]
    assert response.headers["x-ratelimit-remaining-requests"] == "10"
    assert upstream.requests == [] and not await QuotaCounter.objects.filter(used__gt=0).aexists()


@pytest.mark.parametrize("depth", [100, 100_000])
async def test_deeply_nested_json_is_400_on_v1(plaintext, upstream, depth):
    body = b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    response = await post(plaintext, body)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]["message"]
    assert upstream.requests == []


def test_deeply_nested_json_is_400_on_create_key(alice_client, plans):
    body = '{"plan_name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = alice_client.post("/create_key", body, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


async def test_a_body_declared_too_large_is_refused_before_it_is_read(plaintext):
    async def receive():
        raise AssertionError("the body was read")

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-length", b"314572800"), (b"x-api-key", plaintext.encode())],
        "query_string": b"",
    }
    await application(scope, receive, send)
    assert sent[0]["status"] == 413
    assert "larger than 4 MiB" in json.loads(sent[1]["body"])["error"]["message"]


def raw_request(url: str, head: bytes, body: bytes = b"", timeout: float = 5) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may close before taking it all: that is the point
        answer = b""
        while not _complete(answer) and (chunk := sock.recv(65536)):
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    """A whole answer with a Content-Length is read: stop there, for a server that keeps the connection."""
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:] if _ else []:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def test_daphne_refuses_a_huge_body_from_its_length_without_waiting_for_it(live):
    started = time.monotonic()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 314572800\r\n\r\n"
    )
    answer = raw_request(live.url, head, b"{" + b" " * 65536)
    assert answer.startswith(b"HTTP/1.1 413") and b"body_too_large" in answer
    assert time.monotonic() - started < 3  # 300 MB were never sent, so none were waited for


def test_daphne_refuses_a_chunked_body_once_it_passes_the_limit(live):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b"x" * 1024 * 1024)
    answer = raw_request(live.url, head, chunk * 28)
    assert answer.startswith(b"HTTP/1.1 413")


def test_uvicorn_refuses_a_huge_body_from_its_length_too(live_server_factory, live_server_env):
    from conftest import sqlite_test_url

    server = live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env}, server="uvicorn")
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 314572800\r\n\r\n"
    assert raw_request(server.url, head).startswith(b"HTTP/1.1 413")


def test_a_long_query_message_gets_the_views_own_answer(live, user, key_factory):
    from urllib.parse import quote

    _, plaintext = key_factory(user)
    message = quote("ก" * 16_001).encode()  # 144 KB of URL: Twisted dropped anything over 16 KB
    head = b"GET /query?uuid=x&message=" + message + b" HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
    answer = raw_request(live.url, head + b"x-api-key: " + plaintext.encode() + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"limited to 16000 characters" in answer
    assert QuotaCounter.objects.filter(used__gt=0).count() == 0


def test_a_url_past_any_use_is_414_not_a_dropped_connection(live):
    answer = raw_request(live.url, b"GET /query?message=" + b"x" * 300_000 + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414") and b"too long" in answer


def test_the_admin_log_in_goes_through_allauth(client, user_factory):
    user_factory("staff@example.com", is_staff=True, is_superuser=True)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["location"].startswith("/accounts/login/")
    response = client.post("/admin/login/", {"username": "staff@example.com", "password": "guess"})
    assert response.status_code == 302 and "_auth_user_id" not in client.session


def test_guessing_a_staff_password_is_rate_limited(client, user_factory):
    from conftest import PASSWORD

    user_factory("staff@example.com", is_staff=True, is_superuser=True)
    for attempt in range(6):
        client.post("/accounts/login/", {"login": "staff@example.com", "password": f"wrong-{attempt}"})
    response = client.post("/accounts/login/", {"login": "staff@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


def test_upstream_refusing_the_providers_key_is_502_without_its_body(live, user, key_factory, upstream_server):
    upstream_server.reset()
    upstream_server.refuse_credentials = True
    _, plaintext = key_factory(user)
    response = httpx.post(live.url + "/v1/chat/completions", headers={"x-api-key": plaintext}, json={"messages": HI})
    upstream_server.reset()
    assert response.status_code == 502
    assert "refused Tollgate's credentials" in response.json()["error"]["message"]
    assert "provider-secret-never-shown" not in response.text and "invalid_api_key" not in response.text
