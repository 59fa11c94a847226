"""Every route outside /v1 refuses an overlong body with 413 under daphne and uvicorn, and writes none of it."""

import socket
import threading
from pathlib import Path

import pytest

from conftest import sqlite_test_url
from portal.body_limit import body_limited

MiB = 1024 * 1024
CHUNK = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)


def written_bytes(pid: int) -> int:
    """Bytes the process has written with write() and friends: files and sockets alike."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/<pid>/io")


def post(url: str, path: str, *, chunked_mib: int = 0, declared: int = 0) -> bytes:
    """A POST whose body streams from another thread while this one reads the answer."""
    host, port = url.removeprefix("http://").split(":")
    length = f"content-length: {declared}" if declared else "transfer-encoding: chunked"
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n{length}\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode())

        def send_body() -> None:
            try:
                for _ in range(chunked_mib * 16 if chunked_mib else declared // len(CHUNK)):
                    sock.sendall(CHUNK if chunked_mib else b"x" * len(CHUNK))
                if chunked_mib:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server closed once it had refused: the point of the test

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        sender.join(20)
    return answer


@pytest.fixture(params=["daphne", "uvicorn"])
def server(request, live_server_factory, live_server_env, tmp_path):
    env = {"DATABASE_URL": sqlite_test_url(), "TMPDIR": str(tmp_path), **live_server_env}
    return live_server_factory(env, server=request.param)


@pytest.mark.parametrize("path", ["/nonexistent", "/accounts/login/"])
def test_a_50_mib_chunked_post_is_413_and_never_written(server, tmp_path, path):
    before = written_bytes(server.process.pid)
    answer = post(server.url, path, chunked_mib=50)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    assert written_bytes(server.process.pid) - before < MiB  # Django or Twisted spooled nothing to disk
    assert list(tmp_path.iterdir()) == []


def test_a_declared_length_past_the_cap_is_refused_before_reading(server):
    answer = post(server.url, "/accounts/login/", declared=300 * MiB)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_body_within_the_cap_still_reaches_django(server):
    answer = post(server.url, "/accounts/login/", chunked_mib=1)
    assert answer.startswith(b"HTTP/1.1 403"), server.output()[-3000:]  # Django's CSRF refusal: the form was read


async def test_the_cap_is_a_setting_read_per_request(settings):
    settings.MAX_REQUEST_BODY = 10
    read = []

    async def django(scope, receive, send):  # reads the body as Django's ASGIHandler does
        while (message := await receive())["type"] == "http.request":
            read.append(message["body"])
            if not message.get("more_body"):
                break
        else:
            return  # the client went away: Django answers nothing
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run(*bodies: bytes) -> list[dict]:
        messages = iter([{"type": "http.request", "body": b, "more_body": True} for b in bodies])
        sent = []

        async def receive():
            return next(messages, {"type": "http.request", "body": b""})

        async def send(message):
            sent.append(message)

        await body_limited(django)({"type": "http", "headers": []}, receive, send)
        return sent

    assert (await run(b"x" * 5, b"x" * 5))[0]["status"] == 200
    read.clear()
    assert (await run(b"x" * 8, b"x" * 8))[0]["status"] == 413 and read == [b"x" * 8]
