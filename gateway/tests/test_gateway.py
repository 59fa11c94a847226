"""The /v1 gateway under a live daphne, driven by the official openai SDK against the loopback upstream."""

import asyncio
import datetime
import time

import httpx
import openai
import pytest

from keys.models import DailyUsage, Plan, QuotaCounter
from keys.services import key_revoke

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upstream_live(upstream_server):
    upstream_server.reset()
    yield upstream_server
    upstream_server.reset()


@pytest.fixture
def sdk(live):
    def make(key: str, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, **kwargs)

    return make


def chat(client: openai.OpenAI, **kwargs):
    return client.chat.completions.create(
        model="loopback-model", messages=[{"role": "user", "content": "hi"}], **kwargs
    )


def test_models_and_completion_with_the_sdk(sdk, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)
    client = sdk(plaintext)
    assert [m.id for m in client.models.list()] == ["loopback-model"]
    raw = client.chat.completions.with_raw_response.create(
        model="loopback-model", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("Hello from the loopback model")
    assert raw.headers["x-ratelimit-limit-requests"] == "10"
    assert raw.headers["x-ratelimit-remaining-requests"] == "9"
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")


def test_the_users_key_never_reaches_the_upstream_and_the_providers_key_is_sent(sdk, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)
    chat(sdk(plaintext))
    sent = upstream_live.requests[-1]["headers"]
    assert sent["authorization"] == "Bearer provider-secret-never-shown"
    assert plaintext not in str(sent) and "x-api-key" not in sent


def test_x_api_key_header_works(live, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)
    response = httpx.post(
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext},
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    assert upstream_live.requests[-1]["json"]["model"] == "loopback-model"  # LLM_MODEL fills a missing model


def test_the_eleventh_request_gets_429_limit_exceeded(sdk, user, key_factory, upstream_live):
    _, plaintext = key_factory(user, "10RequestPerDay")
    client = sdk(plaintext)
    for _ in range(10):
        chat(client)
    with pytest.raises(openai.RateLimitError) as error:
        chat(client)
    response = error.value.response
    assert response.status_code == 429
    body = response.json()
    assert body["message"] == "Limit Exceeded"
    assert body["error"]["code"] == "rate_limit_exceeded"
    tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).date()
    expected = f"Limit Exceeded: 10RequestPerDay allows 10 requests per day; resets at {tomorrow} 00:00 UTC"
    assert body["error"]["message"] == expected
    assert 0 < int(response.headers["retry-after"]) <= 86401
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(upstream_live.requests) == 10  # the refused request never reached the model
    assert QuotaCounter.objects.get().used == 10


def test_the_sdk_does_not_retry_a_spent_day(live, user, key_factory, upstream_live):
    _, plaintext = key_factory(user, "10RequestPerDay")
    sent = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=3, http_client=http)
    for _ in range(10):
        chat(client)
    sent.clear()
    with pytest.raises(openai.RateLimitError) as error:
        chat(client)
    assert error.value.response.headers["x-should-retry"] == "false"
    assert len(sent) == 1  # without the header the SDK would have tried 4 times


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-a-key"},
        {"x-api-key": "tg-AAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_malformed_keys_get_401_in_openais_shape(live, headers, plans):
    response = httpx.post(live.url + "/v1/chat/completions", headers=headers, json={"messages": []})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_unknown_well_formed_key_is_401(live, plans):
    from keys.crypto import key_generate

    _, unknown = key_generate()
    response = httpx.get(live.url + "/v1/models", headers={"authorization": f"Bearer {unknown}"})
    assert response.status_code == 401


def test_a_revoked_key_stops_at_once(sdk, user, key_factory, upstream_live):
    key, plaintext = key_factory(user)
    client = sdk(plaintext)
    chat(client)  # warms the gateway's key cache
    key_revoke(key=key)
    with pytest.raises(openai.AuthenticationError):
        chat(client)


def test_bad_bodies_are_400_and_not_charged(live, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)
    headers = {"x-api-key": plaintext}
    for body in [
        b"{not json",
        b"[]",
        b'{"messages": []}',
        b'{"messages": "hi"}',
        b'{"messages": [{"role": "user"}], "model": 5}',
    ]:
        response = httpx.post(live.url + "/v1/chat/completions", headers=headers, content=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["message"]
        assert response.headers["x-ratelimit-remaining-requests"] == "10"  # answered, not charged
    assert not QuotaCounter.objects.filter(used__gt=0).exists()
    assert upstream_live.requests == []


def test_unknown_endpoint_and_wrong_method(live, plans):
    response = httpx.post(live.url + "/v1/fine_tuning/jobs")
    assert response.status_code == 404 and "/v1/embeddings" in response.json()["error"]["message"]
    response = httpx.get(live.url + "/v1/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize(("model", "status"), [("fail-500", 502), ("fail-close", 502)])
def test_upstream_failure_is_502_and_not_charged(sdk, user, key_factory, upstream_live, model, status):
    _, plaintext = key_factory(user)
    client = sdk(plaintext)
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == status
    assert "not charged" in error.value.response.json()["error"]["message"]
    assert QuotaCounter.objects.get().used == 0


def test_upstream_client_errors_pass_through_uncharged(sdk, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)
    with pytest.raises(openai.BadRequestError):
        sdk(plaintext).chat.completions.create(model="fail-400", messages=[{"role": "user", "content": "hi"}])
    assert QuotaCounter.objects.get().used == 0


def test_upstream_timeout_is_504_and_not_charged(
    live_server_factory, live_server_env, user, key_factory, upstream_live
):
    from conftest import sqlite_test_url

    server = live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env, "LLM_TIMEOUT": "0.3"})
    _, plaintext = key_factory(user)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=plaintext, max_retries=0)
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(model="slow-3000", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 504
    assert QuotaCounter.objects.get().used == 0


def test_a_stream_that_stalls_ends_with_an_error_event_and_is_refunded(
    live_server_factory, live_server_env, user, key_factory, upstream_live
):
    from conftest import sqlite_test_url

    server = live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env, "LLM_TIMEOUT": "0.3"})
    _, plaintext = key_factory(user)
    body = {"model": "gap-1000", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.monotonic()
    with httpx.stream("POST", server.url + "/v1/chat/completions", headers={"x-api-key": plaintext}, json=body) as r:
        text = r.read().decode()
    assert r.status_code == 200 and "stopped answering" in text and "not charged" in text
    assert time.monotonic() - started < 3  # ended by the idle timeout, not by the 13-second answer
    assert QuotaCounter.objects.get().used == 0


def test_streams_arrive_in_pieces_as_they_are_made(sdk, user, key_factory, upstream_live):
    upstream_live.chunk_gap = 0.05
    _, plaintext = key_factory(user)
    arrivals, text = [], []
    started = time.monotonic()
    for chunk in chat(sdk(plaintext), stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            text.append(chunk.choices[0].delta.content)
        assert chunk.usage is None  # the client did not ask for usage: Tollgate's own request is hidden
    assert "".join(text) == upstream_live.reply
    words = len(upstream_live.reply.split())
    assert len(arrivals) == words
    # Each word left the upstream 50 ms after the previous one; relayed live, they arrive spread out.
    assert arrivals[-1] - arrivals[0] >= 0.05 * (words - 2)
    assert upstream_live.requests[-1]["json"]["stream_options"] == {"include_usage": True}


def test_stream_with_usage_and_tokens_recorded(sdk, user, key_factory, upstream_live):
    key, plaintext = key_factory(user)
    chunks = list(chat(sdk(plaintext), stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == len(upstream_live.reply.split())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        usage = DailyUsage.objects.filter(key=key).first()
        if usage:
            break
        time.sleep(0.2)
    assert usage.requests == 1 and usage.completion_tokens == len(upstream_live.reply.split())
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_client_disconnect_cancels_the_upstream(live, user, key_factory, upstream_live):
    upstream_live.chunk_gap = 0.1
    _, plaintext = key_factory(user)
    with httpx.stream(
        "POST",
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext},
        json={"model": "loopback-model", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    ) as response:
        iterator = response.iter_bytes()
        next(iterator)
        next(iterator)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and upstream_live.streams_abandoned == 0:
        time.sleep(0.05)
    assert upstream_live.streams_abandoned == 1
    assert upstream_live.streams_finished == 0


def test_sixty_concurrent_requests_on_a_twenty_a_day_key_admit_exactly_twenty(live, user, key_factory, upstream_live):
    _, plaintext = key_factory(user, "20RequestPerDay")

    async def burst() -> list[int]:
        client = openai.AsyncOpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=0)

        async def one() -> int:
            try:
                await client.chat.completions.create(
                    model="loopback-model", messages=[{"role": "user", "content": "x"}]
                )
                return 200
            except openai.APIStatusError as exc:
                return exc.status_code

        return await asyncio.gather(*(one() for _ in range(60)))

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 20 and statuses.count(429) == 40
    assert QuotaCounter.objects.get().used == 20
    assert len(upstream_live.requests) == 20


def test_a_staff_change_to_the_plan_applies_to_new_requests(sdk, user, key_factory, upstream_live):
    _, plaintext = key_factory(user, "10RequestPerDay")
    client = sdk(plaintext)
    chat(client)
    chat(client)
    Plan.objects.filter(name="10RequestPerDay").update(requests_per_day=2)
    with pytest.raises(openai.RateLimitError) as error:
        chat(client)
    assert "allows 2 requests per day" in error.value.response.json()["error"]["message"]


def test_throttle_refuses_bursts_with_too_many_requests_uncharged(sdk, user, plans, upstream_live):
    from keys.services import key_create

    Plan.objects.create(name="Throttled", requests_per_day=100, throttle_rate=0.5, throttle_burst=2)
    _, plaintext = key_create(owner=user, plan_name="Throttled")
    client = sdk(plaintext)
    chat(client)
    chat(client)
    with pytest.raises(openai.RateLimitError) as error:
        chat(client)
    assert error.value.response.json()["message"] == "Too Many Requests"
    assert 1 <= int(error.value.response.headers["retry-after"]) <= 2
    assert error.value.response.headers["x-ratelimit-remaining-requests"] == "98"
    assert QuotaCounter.objects.get().used == 2


def test_revoking_and_generating_again_does_not_refill_the_day(sdk, user, key_factory, upstream_live):
    from keys.services import key_create

    key, plaintext = key_factory(user, "10RequestPerDay")
    client = sdk(plaintext)
    for _ in range(10):
        chat(client)
    key_revoke(key=key)
    _, fresh = key_create(owner=user, plan_name="10RequestPerDay")
    with pytest.raises(openai.RateLimitError):
        chat(sdk(fresh))


def test_async_sdk_streams(live, user, key_factory, upstream_live):
    _, plaintext = key_factory(user)

    async def run() -> str:
        client = openai.AsyncOpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=0)
        stream = await client.chat.completions.create(
            model="loopback-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(run()) == upstream_live.reply


def test_no_pool_caps_concurrent_requests(live, user, plans, upstream_live):
    """Three hundred slow answers at once all reach the model at once: nothing queues them silently."""
    Plan.objects.create(name="Big", requests_per_day=1000)
    from keys.services import key_create

    _, plaintext = key_create(owner=user, plan_name="Big")
    client = openai.AsyncOpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=0, timeout=30)

    async def burst() -> None:
        await asyncio.gather(
            *(
                client.chat.completions.create(model="slow-1500", messages=[{"role": "user", "content": "x"}])
                for _ in range(300)
            )
        )

    asyncio.run(burst())
    assert upstream_live.most_in_flight == 300
