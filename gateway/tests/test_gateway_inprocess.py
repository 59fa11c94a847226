"""The gateway called in this process, for failures a live server cannot be made to show."""

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

from conftest import post_v1
from keys.metering import utc_today
from keys.metering.quota.database import DatabaseQuota
from keys.models import QuotaCounter
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def post(key: str, **json):
    return await post_v1(key, json)


@pytest.fixture
def plaintext(user, key_factory):
    return key_factory(user)[1]


async def test_a_failing_quota_store_is_503_and_charges_nothing(plaintext, upstream, monkeypatch):
    def broken(self, info, day):
        raise OperationalError("database is locked")

    monkeypatch.setattr(DatabaseQuota, "consume_sync", broken)
    response = await post(plaintext, messages=[{"role": "user", "content": "hi"}])
    assert response.status_code == 503
    assert "not charged" in response.json()["error"]["message"]
    assert upstream.requests == []
    assert not await QuotaCounter.objects.filter(used__gt=0).aexists()


async def test_demo_model_answers_when_no_upstream_is_configured(plaintext, settings):
    settings.LLM_BASE_URL = ""
    response = await post(plaintext, messages=[{"role": "user", "content": "hi"}])
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "tollgate-demo" and "demo model" in body["choices"][0]["message"]["content"]
    assert response.headers["x-ratelimit-remaining-requests"] == "9"


async def test_oversized_body_is_refused_before_charging(plaintext, upstream):
    response = await post(plaintext, messages=[{"role": "user", "content": "x" * (5 * 1024 * 1024)}])
    assert response.status_code == 413 and "4 MiB" in response.json()["error"]["message"]
    assert upstream.requests == []


async def test_browsers_on_other_origins_may_call_the_api(plaintext, upstream):
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        preflight = await client.options(
            "/v1/chat/completions",
            headers={"origin": "https://app.example", "access-control-request-headers": "authorization"},
        )
        assert preflight.status_code == 204
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        response = await client.get("/v1/models", headers={"x-api-key": plaintext, "origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining-requests" in response.headers["access-control-expose-headers"]


async def test_no_model_and_no_default_is_400_and_not_charged(plaintext, upstream, settings):
    settings.LLM_MODEL = ""
    response = await post(plaintext, messages=[{"role": "user", "content": "hi"}])
    assert response.status_code == 400 and response.json()["error"]["code"] == "model_required"
    assert response.headers["x-ratelimit-remaining-requests"] == "10"
    assert upstream.requests == []


async def test_past_an_upstreams_limit_the_answer_is_a_clear_503_uncharged(plaintext, upstream, settings):
    import asyncio

    settings.LLM_MAX_CONCURRENT = 2
    slow = {"model": "slow-400", "messages": [{"role": "user", "content": "hi"}]}
    responses = await asyncio.gather(*(post(plaintext, **slow) for _ in range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert "as many requests as the operator allows" in busy.json()["error"]["message"]
    assert busy.headers["x-ratelimit-remaining-requests"] == "8"  # the refused one was given back


async def test_api_bodies_stay_english_for_a_thai_reader(user, key_factory, upstream):
    """The gateway and the seed's /query answer scripts: English, whatever language the caller's browser prefers."""
    key, plaintext = await sync_to_async(key_factory)(user)
    await QuotaCounter.objects.acreate(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=10)
    thai = {"x-api-key": plaintext, "accept-language": "th", "cookie": "django_language=th"}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        refused = await client.post(
            "/v1/chat/completions", headers=thai, json={"messages": [{"role": "user", "content": "hi"}]}
        )
        empty = await client.get("/query", params={"message": ""}, headers=thai)
    assert refused.status_code == 429 and refused.json()["message"] == "Limit Exceeded"
    assert refused.json()["error"]["message"].endswith(" 00:00 UTC")
    assert empty.status_code == 400 and empty.json() == {"message": "The 'message' query parameter is required."}


async def test_the_model_list_carries_the_rate_limit_headers_and_costs_nothing(plaintext, upstream):
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        for _ in range(3):
            response = await client.get("/v1/models", headers={"x-api-key": plaintext})
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit-requests"] == "10"
    assert response.headers["x-ratelimit-remaining-requests"] == "10"
    assert response.headers["x-ratelimit-reset-requests"]
