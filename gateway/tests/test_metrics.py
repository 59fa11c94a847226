"""/metrics: hidden without a token, guarded by it, and summed over every worker process."""

import re
import time

import httpx
import pytest

from conftest import sqlite_test_url

pytestmark = pytest.mark.django_db(transaction=True)


def sample(text: str, name: str, **labels) -> float:
    """The sum of the series `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}(?:\{{(.*)\}})? ([0-9.e+]+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_metrics_are_404_without_a_token_configured(live):
    assert httpx.get(live.url + "/metrics").status_code == 404


def test_metrics_sum_over_two_workers_and_need_the_token(
    live_server_factory, live_server_env, user, key_factory, upstream_server, tmp_path
):
    upstream_server.reset()
    env = {
        "DATABASE_URL": sqlite_test_url(),
        **live_server_env,
        "METRICS_TOKEN": "scrape-me",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    server = live_server_factory(env, server="uvicorn", workers=2)
    _, plaintext = key_factory(user)  # 10 a day
    with httpx.Client(base_url=server.url, headers={"x-api-key": plaintext}) as client:
        statuses = []
        for _ in range(14):  # a fresh connection each time, so both workers answer
            with httpx.Client(base_url=server.url, headers={"x-api-key": plaintext}) as fresh:
                body = {"model": "loopback-model", "messages": [{"role": "user", "content": "one two"}]}
                statuses.append(fresh.post("/v1/chat/completions", json=body).status_code)
        assert statuses.count(200) == 10 and statuses.count(429) == 4
        time.sleep(1.5)  # each worker writes its figures once a second
        assert client.get("/metrics").status_code == 401
        assert httpx.get(server.url + "/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        text = httpx.get(server.url + "/metrics", headers={"authorization": "Bearer scrape-me"}).text
    pids = {f.name.rsplit("_", 1)[1] for f in tmp_path.glob("counter_*.db")}
    assert len(pids) == 2, "both workers answered and wrote their figures"
    endpoint = "/v1/chat/completions"
    assert sample(text, "tollgate_requests_total", endpoint=endpoint, status="200", plan="10RequestPerDay") == 10
    assert sample(text, "tollgate_requests_total", endpoint=endpoint, status="429", model="loopback-model") == 4
    assert sample(text, "tollgate_quota_refusals_total", plan="10RequestPerDay", reason="requests") == 4
    assert sample(text, "tollgate_upstream_requests_total", upstream="default", outcome="ok") == 10
    assert sample(text, "tollgate_tokens_total", model="loopback-model", kind="prompt") == 20
    assert sample(text, "tollgate_tokens_total", model="loopback-model", kind="completion") == 120
    assert sample(text, "tollgate_request_duration_seconds_count", part="total") == 14
    assert sample(text, "tollgate_request_duration_seconds_count", part="tollgate") == 14
    assert "tollgate_chat_sockets" in text


async def test_metrics_follow_the_settings_in_this_process(settings, tmp_path, user, key_factory, upstream):
    """Configured on first use from the settings, never at import: a test can turn them on and off."""
    from asgiref.sync import sync_to_async

    from portal.asgi import application

    transport = httpx.ASGITransport(app=application)
    _, plaintext = await sync_to_async(key_factory)(user)
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": "one two"}]}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/metrics")).status_code == 404
        settings.METRICS_TOKEN, settings.PROMETHEUS_MULTIPROC_DIR = "in-process", str(tmp_path)
        answer = await client.post("/v1/chat/completions", headers={"x-api-key": plaintext}, json=body)
        assert answer.status_code == 200
        text = (await client.get("/metrics", headers={"authorization": "Bearer in-process"})).text
        assert sample(text, "tollgate_requests_total", endpoint="/v1/chat/completions", status="200") == 1
        assert sample(text, "tollgate_tokens_total", model="loopback-model", kind="prompt") == 2
        assert list(tmp_path.glob("counter_*.db")), "the figures live in the folder the settings name"
        settings.METRICS_TOKEN = ""
        assert (await client.get("/metrics")).status_code == 404


async def test_request_log_rows_that_could_not_be_written_are_counted(settings, tmp_path, monkeypatch):
    from portal.asgi import application
    from requestlog import writer

    settings.METRICS_TOKEN, settings.PROMETHEUS_MULTIPROC_DIR = "in-process", str(tmp_path)
    monkeypatch.setattr(writer, "MAX_ROWS", 2)
    monkeypatch.setattr(writer, "_flush_soon", lambda: None)  # nothing written: the buffer overflows
    for index in range(5):
        writer.request_log_note(
            request_id=f"r{index}", user_id=None, key_prefix="", endpoint="/v1/models", model="", upstream="",
            status=401, refusal="", stream=False, latency_ms=1, ttfb_ms=1, prompt_tokens=0, completion_tokens=0,
            cost=None, client_ip=None,
        )  # fmt: skip
    writer.request_log_forget()
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        text = (await client.get("/metrics", headers={"authorization": "Bearer in-process"})).text
    assert sample(text, "tollgate_request_log_dropped_total") >= 3
