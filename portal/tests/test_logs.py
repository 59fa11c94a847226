"""Logs hold no key and no chat text; every response carries a request id, and JSON logs carry it too."""

import json
import time

import httpx
import pytest

from conftest import sqlite_test_url

pytestmark = pytest.mark.django_db(transaction=True)
SECRET_TEXT = "my-private-question-about-taxes"


def test_no_log_line_holds_a_key_or_the_querys_text(live_server_factory, live_server_env, user, key_factory):
    server = live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env})
    _, plaintext = key_factory(user)
    headers = {"x-api-key": plaintext}
    assert httpx.get(server.url + "/query", params={"message": SECRET_TEXT}, headers=headers).status_code == 200
    httpx.post(server.url + "/v1/chat/completions", headers=headers, json={"messages": "not a list"})
    httpx.get(server.url + "/v1/models", headers={"authorization": "Bearer " + plaintext[:-1] + "X"})
    log = server.output()
    assert '"GET /query' in log  # the access log is there...
    assert SECRET_TEXT not in log and "message=" not in log  # ...without the query string
    assert plaintext not in log and plaintext[:-1] not in log


def test_uvicorn_access_lines_lose_the_query_string_too(live_server_factory, live_server_env, user, key_factory):
    env = {"DATABASE_URL": sqlite_test_url(), **live_server_env}
    server = live_server_factory(env, server="uvicorn")
    _, plaintext = key_factory(user)
    httpx.get(server.url + "/query", params={"message": SECRET_TEXT}, headers={"x-api-key": plaintext})
    assert SECRET_TEXT not in server.output() and plaintext not in server.output()


def test_json_logs_carry_the_request_id(live_server_factory, live_server_env, plans):
    server = live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env, "LOG_FORMAT": "json"})
    response = httpx.get(server.url + "/v1/models", headers={"x-request-id": "trace-42"})
    assert response.status_code == 401 and response.headers["x-request-id"] == "trace-42"
    deadline = time.monotonic() + 5  # the access line is written after the response, later on a busy machine
    while "trace-42" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    assert any(line["request_id"] == "trace-42" for line in lines)


def test_every_response_carries_a_request_id_and_only_sane_ones_are_echoed(live, plans):
    page = httpx.get(live.url + "/")
    assert len(page.headers["x-request-id"]) == 32
    echoed = httpx.get(live.url + "/healthz", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    insane = httpx.get(live.url + "/v1/models", headers={"x-request-id": "a" * 200})
    assert insane.headers["x-request-id"] != "a" * 200 and len(insane.headers["x-request-id"]) == 32
