"""Prices, budgets and GET /v1/key through the door: reserve the most a call may cost, settle to what it cost,
and charge a cut stream only for what arrived."""

from decimal import Decimal

import httpx
import pytest
from asgiref.sync import sync_to_async

from conftest import post_v1
from gateway import calls
from gateway.catalogue import catalogue_forget
from gateway.models import CatalogModel, Upstream
from keys import metering
from keys.metering.keycache import key_info_load
from keys.models import DailyUsage, Plan, QuotaCounter
from keys.money import Price
from keys.services import key_create

pytestmark = pytest.mark.django_db(transaction=True)
PRICES = {"price_input_per_million": Decimal("100"), "price_output_per_million": Decimal("1000")}
PRICE = Price(100_000_000, 1_000_000_000, 0)
HELLO = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def priced(upstream, settings):
    """Models served by the loopback upstream at PRICES (a per-request price, if asked)."""
    settings.UPSTREAM_ALLOW_PRIVATE = True
    settings.GATEWAY_CATALOGUE_SECONDS = 0
    loop = Upstream.objects.create(name="loop", base_url=upstream.base_url)

    def make(name: str, **extra) -> CatalogModel:
        model = CatalogModel.objects.create(name=name, kind="chat", **{**PRICES, **extra})
        model.upstreams.add(loop)
        catalogue_forget()
        return model

    yield make
    catalogue_forget()


@pytest.fixture
def budget_key(user):
    """A key in a monthly plan with a one-dollar budget, counted in Bangkok."""
    Plan.objects.create(
        name="Monthly", requests_per_day=100, period="month", time_zone="Asia/Bangkok", budget=Decimal("1")
    )
    key, plaintext = key_create(owner=user, plan_name="Monthly")
    return key, plaintext


async def get_key_state(key: str) -> httpx.Response:
    from portal.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.get("/v1/key", headers={"authorization": f"Bearer {key}"})


async def test_a_priced_call_is_charged_its_real_cost_and_the_key_can_ask_what_is_left(priced, budget_key):
    await sync_to_async(priced)("loopback-model", price_per_request=Decimal("0.001"))
    key, plaintext = budget_key
    answer = await post_v1(plaintext, {**HELLO, "model": "loopback-model", "max_tokens": 50})
    assert answer.status_code == 200
    await metering.settlements_wait()
    # 1 prompt word and 12 answer words, as the loopback counts: 0.0001 + 0.012 + 0.001
    cost = 100_000 + 12_000_000 + 1_000_000
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id)
    assert (counter.used, counter.tokens, counter.spent_nanos) == (1, 13, cost)
    for _ in range(3):  # asking is never charged
        state = await get_key_state(plaintext)
    assert state.status_code == 200 and state.headers["x-ratelimit-remaining-requests"] == "99"
    body = state.json()
    assert body["key"] == key.public_prefix and body["plan"] == "Monthly" and body["period"] == "month"
    assert body["time_zone"] == "Asia/Bangkok" and body["reset_at"].endswith("T00:00:00+07:00")
    assert body["reset_at"][8:10] == "01"  # the first of a month
    assert body["requests"] == {"limit": 100, "used": 1, "remaining": 99}
    assert body["tokens"] == {"limit": None, "used": 13, "remaining": None}
    assert body["budget"] == {"limit": "1.00", "spent": "0.0131", "remaining": "0.9869", "currency": "USD"}
    assert body["models"] == ["loopback-model"] and body["expires_at"] is None
    assert (await QuotaCounter.objects.aget(owner_id=key.owner_id)).used == 1


async def test_a_call_that_might_cost_more_than_is_left_gets_429_naming_the_budget(priced, budget_key):
    await sync_to_async(priced)("loopback-model")
    _, plaintext = budget_key
    # At most 11 prompt tokens (the bound) and 1,000,000 out at $1,000 a million: $1,000 > $1.
    refused = await post_v1(plaintext, {**HELLO, "model": "loopback-model", "max_tokens": 1_000_000})
    assert refused.status_code == 429
    body = refused.json()
    assert body["message"] == "Limit Exceeded" and body["error"]["type"] == "budget"
    assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["remaining"] == "1.00"
    assert body["error"]["budget"] == "1.00" and body["error"]["currency"] == "USD"
    assert "1.00 USD per month" in body["error"]["message"] and "+07:00" in body["error"]["reset_at"]
    assert refused.headers["x-should-retry"] == "false"
    assert not await QuotaCounter.objects.filter(used__gt=0).aexists()  # not charged
    assert (await post_v1(plaintext, {**HELLO, "model": "loopback-model", "max_tokens": 100})).status_code == 200


async def open_call(plaintext: str, model: str) -> calls.Call:
    info = await calls.authenticate(plaintext)
    route = await calls.route_find(info=info, model=model)
    request = calls.chat_request(model=model, messages=HELLO["messages"])
    call = await calls.call_admit(info=info, route=route, request=request)
    await call.open(calls.CHAT_PATH, request)
    return call


def priced_estimate(payload_prompt: int, text: str, chunks: int) -> tuple[int, int]:
    completion = max(chunks, (len(text.encode()) + 3) // 4)
    return (payload_prompt + 3) // 4, completion


async def test_a_client_that_leaves_mid_stream_pays_only_for_what_arrived(priced, budget_key):
    """No usage chunk came: the delivered text is counted (see gateway/costs.py), never the reservation."""
    await sync_to_async(priced)("gap-20", max_output_tokens=200)
    key, plaintext = budget_key
    call = await open_call(plaintext, "gap-20")
    reserved = call.reservation
    received = []
    async for text in call.texts():
        received.append(text)
        if len(received) == 3:
            break
    call.abandon()
    await metering.settlements_wait()
    prompt_bound = len(b"user") + len(b"hi") + 4
    prompt, completion = priced_estimate(prompt_bound, "".join(received), 3)
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id)
    assert (counter.used, counter.tokens, counter.spent_nanos) == (
        1,
        prompt + completion,
        PRICE.cost(prompt, completion),
    )
    assert counter.spent_nanos < reserved.nanos and counter.tokens < reserved.tokens
    await sync_to_async(metering.usage_flush)()
    usage = await DailyUsage.objects.aget(key=key)
    assert (usage.requests, usage.completion_tokens, usage.cost_nanos) == (1, completion, counter.spent_nanos)


async def test_an_upstream_that_breaks_off_is_charged_for_what_arrived_and_counts_once(priced, budget_key):
    await sync_to_async(priced)("break-4", max_output_tokens=200)
    key, plaintext = budget_key
    answer = await post_v1(plaintext, {**HELLO, "model": "break-4", "stream": True})
    assert answer.status_code == 200
    assert "charged only for the part of the answer that arrived" in answer.text
    await metering.settlements_wait()
    delivered = "Hello from the loopback"  # four words
    prompt, completion = priced_estimate(len(b"user") + len(b"hi") + 4, delivered, 4)
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id)
    assert (counter.used, counter.tokens, counter.spent_nanos) == (
        1,
        prompt + completion,
        PRICE.cost(prompt, completion),
    )


async def test_an_upstream_that_breaks_before_any_text_is_refunded_whole(priced, budget_key):
    await sync_to_async(priced)("break-0", max_output_tokens=200)
    key, plaintext = budget_key
    answer = await post_v1(plaintext, {**HELLO, "model": "break-0", "stream": True})
    assert "was not charged" in answer.text
    await metering.settlements_wait()
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id)
    assert (counter.used, counter.tokens, counter.spent_nanos) == (0, 0, 0)


async def test_an_upstream_that_reports_no_usage_is_charged_an_estimate(priced, user, upstream):
    await sync_to_async(priced)("no-usage")
    await Plan.objects.acreate(name="Tokens", requests_per_day=100, tokens_per_day=1000)
    key, plaintext = await sync_to_async(key_create)(owner=user, plan_name="Tokens")
    answer = await post_v1(plaintext, {**HELLO, "model": "no-usage", "max_tokens": 100})
    assert answer.status_code == 200 and "usage" not in answer.json()
    await metering.settlements_wait()
    prompt, completion = priced_estimate(len(b"user") + len(b"hi") + 4, upstream.reply, 0)
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id)
    assert counter.tokens == prompt + completion > 0
    assert counter.spent_nanos == PRICE.cost(prompt, completion)


async def test_the_chat_reserves_the_whole_history_once_it_is_known(priced, budget_key, settings):
    """The chat admits before it loads the conversation; opening the call tops the reservation up."""
    await sync_to_async(priced)("loopback-model", max_output_tokens=900)
    _, plaintext = budget_key
    info = await calls.authenticate(plaintext)
    route = await calls.route_find(info=info, model="loopback-model")
    call = await calls.call_admit(info=info, route=route)  # as the chat does: no request yet
    assert call.reservation.tokens == 900  # the model's output cap only
    long_history = [{"role": "user", "content": "word " * 2000}]  # 10,000 bytes: 1,000,900 nanos a token more
    with pytest.raises(calls.CallRefused) as refused:
        await call.open(calls.CHAT_PATH, calls.chat_request(model="loopback-model", messages=long_history))
    assert refused.value.refused.code == metering.RefusalCode.BUDGET
    assert await QuotaCounter.objects.filter(used__gt=0).acount() == 0  # the request was given back too


def test_key_info_carries_the_plans_period_and_budget(budget_key):
    key, _ = budget_key
    info = key_info_load(key_id=key.pk)
    assert (info.period, info.time_zone, info.budget_nanos) == ("month", "Asia/Bangkok", 10**9)
    assert info.reserves


async def test_an_unknown_key_asking_its_state_gets_401(upstream):
    state = await get_key_state("tg-not-a-key")
    assert state.status_code == 401 and state.json()["error"]["code"] == "invalid_api_key"


async def test_the_openai_sdk_reads_the_keys_state_as_the_readme_shows(budget_key, upstream):
    import openai

    from portal.asgi import application

    _, plaintext = budget_key
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=application))
    client = openai.AsyncOpenAI(base_url="http://localhost/v1", api_key=plaintext, http_client=http)
    state = await client.get("/key", cast_to=object)
    assert state["budget"] == {"limit": "1.00", "spent": "0.00", "remaining": "1.00", "currency": "USD"}
    assert state["requests"]["remaining"] == 100
    await http.aclose()


async def test_the_keys_state_agrees_with_the_usage_page_the_api_and_the_csv(priced, budget_key, client):
    import csv
    import io

    await sync_to_async(priced)("loopback-model", price_per_request=Decimal("0.001"))
    key, plaintext = budget_key
    for tokens in (20, 30, 40):
        assert (await post_v1(plaintext, {**HELLO, "model": "loopback-model", "max_tokens": tokens})).status_code == 200
    await metering.settlements_wait()
    await sync_to_async(metering.usage_flush)()
    state = (await get_key_state(plaintext)).json()
    await sync_to_async(client.force_login)(key.owner)
    rows = list(csv.DictReader(io.StringIO((await sync_to_async(client.get)("/usage/export.csv")).content.decode())))
    api = (await sync_to_async(client.get)("/api/v1/usage/")).json()
    api_rows = api["results"] if isinstance(api, dict) else api
    page = (await sync_to_async(client.get)("/usage/")).content.decode()
    spent = Decimal(state["budget"]["spent"])
    assert spent == 3 * Decimal("0.0131")  # three calls, each 0.0001 + 0.012 + 0.001
    assert sum(Decimal(row["cost"]) for row in rows) == spent
    assert sum(Decimal(row["cost"]) for row in api_rows) == spent
    assert sum(int(row["requests"]) for row in rows) == state["requests"]["used"] == 3
    assert state["budget"]["spent"] in page or f"{spent:.4f}" in page


async def test_a_key_moved_into_a_plan_that_reserves_tops_up_before_its_call(priced, user, upstream):
    """Its facts were cached in a plan without limits; it now counts tokens: the call must not be free."""
    from keys.services import key_switch_plan

    await sync_to_async(priced)("loopback-model")
    await Plan.objects.acreate(name="Plain", requests_per_day=100)
    await Plan.objects.acreate(name="Fifty", requests_per_day=100, tokens_per_day=50)
    key, plaintext = await sync_to_async(key_create)(owner=user, plan_name="Plain")
    stale = await calls.authenticate(plaintext)
    await sync_to_async(key_switch_plan)(key=key, plan_name="Fifty")
    route = await calls.route_find(info=stale, model="loopback-model")
    request = calls.chat_request(model="loopback-model", messages=HELLO["messages"])
    request.payload["max_tokens"] = 20
    call = await calls.call_admit(info=stale, route=route, request=request)
    assert call.info.reserves and call.reservation.tokens == 0  # admitted by the new plan, not yet reserved
    await call.open(calls.CHAT_PATH, request)
    assert call.reservation.tokens == len(b"user") + len(b"hi") + 4 + 20
    async for _ in call.events():
        pass
    await metering.settlements_wait()
    fifty = await Plan.objects.aget(name="Fifty")
    counter = await QuotaCounter.objects.aget(owner_id=key.owner_id, plan=fifty)
    assert counter.tokens == 1 + 12  # charged what it took
