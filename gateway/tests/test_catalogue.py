"""The model catalogue under a live daphne: every endpoint through the openai SDK, two upstreams, grants."""

import io

import httpx
import openai
import pytest
from django.db.models import Sum

from gateway.models import CatalogModel, Upstream
from keys.models import DailyUsage, Plan, QuotaCounter

pytestmark = pytest.mark.django_db(transaction=True)
PROVIDER_A, PROVIDER_B = "provider-a-secret", "provider-b-secret"


@pytest.fixture
def two(upstream_server, second_upstream_server):
    """Upstreams a and b; chat-a on a (as loopback-a), embed-b on b (as embedder), shared on both."""
    upstream_server.reset()
    second_upstream_server.reset()
    a = Upstream(name="a", base_url=upstream_server.base_url)
    a.set_api_key(PROVIDER_A)
    a.save()
    b = Upstream(name="b", base_url=second_upstream_server.base_url)
    b.set_api_key(PROVIDER_B)
    b.save()
    CatalogModel.objects.create(name="chat-a", upstream_model="loopback-a").upstreams.set([a])
    CatalogModel.objects.create(name="embed-b", upstream_model="embedder").upstreams.set([b])
    CatalogModel.objects.create(name="shared").upstreams.set([a, b])
    yield upstream_server, second_upstream_server
    upstream_server.reset()
    second_upstream_server.reset()


@pytest.fixture
def sdk(live, user, key_factory):
    _, plaintext = key_factory(user, "30RequestPerDay")
    return openai.OpenAI(base_url=live.url + "/v1", api_key=plaintext, max_retries=0)


def used() -> int:
    return sum(QuotaCounter.objects.values_list("used", flat=True))


def last(server) -> dict:
    return server.requests[-1]


def test_every_endpoint_is_routed_rewritten_and_counted_once(sdk, two):
    a, b = two
    upstream_a, upstream_b = Upstream.objects.get(name="a"), Upstream.objects.get(name="b")
    for name, kind, upstream in (
        ("moderate-b", "moderation", upstream_b),
        ("draw-b", "image", upstream_b),
        ("hear-b", "audio", upstream_b),
        ("speak-a", "audio", upstream_a),
    ):  # each endpoint takes models of its kind
        model = CatalogModel.objects.create(
            name=name, upstream_model="embedder" if upstream is upstream_b else "", kind=kind
        )
        model.upstreams.set([upstream])
    chat = sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "one two"}])
    assert chat.choices[0].message.content.startswith("Hello from the loopback")
    assert last(a)["path"] == "/v1/chat/completions" and last(a)["json"]["model"] == "loopback-a"
    streamed = sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).startswith("Hello")

    text = sdk.completions.create(model="chat-a", prompt="say it")
    assert text.choices[0].text.startswith("Hello") and last(a)["path"] == "/v1/completions"
    pieces = sdk.completions.create(model="chat-a", prompt="say it", stream=True)
    assert "".join(p.choices[0].text for p in pieces if p.choices).startswith("Hello")

    embedding = sdk.embeddings.create(model="embed-b", input="three little words", encoding_format="float")
    assert embedding.data[0].embedding == [0.25, -0.5, 0.75]
    assert last(b)["path"] == "/v1/embeddings" and last(b)["json"]["model"] == "embedder"

    response = sdk.responses.create(model="chat-a", input="hello there")
    assert response.output_text.startswith("Hello") and last(a)["path"] == "/v1/responses"
    events = list(sdk.responses.create(model="chat-a", input="hello there", stream=True))
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta").startswith("Hello")

    assert sdk.moderations.create(model="moderate-b", input="fine").results[0].flagged is False
    assert sdk.images.generate(model="draw-b", prompt="a gate").data[0].url.startswith("http://")
    assert last(b)["path"] == "/v1/images/generations" and last(b)["json"]["model"] == "embedder"
    speech = sdk.audio.speech.create(model="speak-a", voice="alloy", input="hi")
    assert speech.content == b"ID3-loopback-audio"
    transcript = sdk.audio.transcriptions.create(model="hear-b", file=("a.wav", io.BytesIO(b"RIFF....")))
    assert transcript.text == "Second upstream here."
    assert last(b)["path"] == "/v1/audio/transcriptions" and last(b)["json"]["model"] == "embedder"

    assert used() == 11  # every admitted call counted once
    totals = _wait_for_usage(expected_requests=11)
    by_model = dict(DailyUsage.objects.values_list("model").annotate(n=Sum("requests")))
    assert by_model == {"chat-a": 6, "speak-a": 1, "embed-b": 1, "moderate-b": 1, "draw-b": 1, "hear-b": 1}
    assert totals.requests == 11
    # prompt tokens: chat 2 + 1, completions 2 + 2, embeddings 3, responses 2 + 2, transcription 5
    assert totals.prompt_tokens == 19 and totals.completion_tokens > 0


def test_streamed_usage_is_counted_for_responses_and_completions(sdk, two, live):
    list(sdk.responses.create(model="chat-a", input="one two three", stream=True))
    list(sdk.completions.create(model="chat-a", prompt="one two", stream=True))
    usage_flushed = _wait_for_usage(expected_requests=2)
    assert usage_flushed.prompt_tokens == 3 + 2
    assert usage_flushed.completion_tokens == 2 * len(
        "Hello from the loopback model. It streams this answer word by word.".split()
    )


def _wait_for_usage(expected_requests: int) -> DailyUsage:
    """The day's usage summed over models, once the live server has written it (within a second)."""
    import time

    from django.db.models import Sum

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        totals = DailyUsage.objects.aggregate(
            requests=Sum("requests"), prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens")
        )
        if (totals["requests"] or 0) >= expected_requests:
            return DailyUsage(**totals)
        time.sleep(0.1)
    raise AssertionError("usage was not recorded")


def test_models_lists_what_the_plan_grants_and_others_are_404_uncharged(sdk, two, plans):
    assert sorted(m.id for m in sdk.models.list()) == ["chat-a", "embed-b", "shared"]
    granted = CatalogModel.objects.get(name="chat-a")
    granted.plans.add(plans["30RequestPerDay"])
    assert [m.id for m in sdk.models.list()] == ["chat-a"]  # this plan now grants one model only
    with pytest.raises(openai.NotFoundError) as error:
        sdk.embeddings.create(model="embed-b", input="x")
    body = error.value.response.json()
    assert body["error"]["code"] == "model_not_found" and "chat-a" in body["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert used() == 0
    other = Plan.objects.get(name="10RequestPerDay")
    assert other.models.count() == 0  # a plan that grants nothing in particular still sees all


def test_failover_is_invisible_and_charges_once(sdk, two):
    a, b = two
    a.fail_status = 500
    for _ in range(4):
        answer = sdk.chat.completions.create(model="shared", messages=[{"role": "user", "content": "x"}])
        assert answer.choices[0].message.content == "Second upstream here."
    assert used() == 4
    b.fail_status = 503
    with pytest.raises(openai.InternalServerError) as error:
        sdk.chat.completions.create(model="shared", messages=[{"role": "user", "content": "x"}])
    assert error.value.status_code == 502 and "not charged" in error.value.response.json()["error"]["message"]
    assert used() == 4


def test_refused_provider_credentials_are_a_502_without_the_upstreams_body(sdk, two, live):
    a, _ = two
    a.refuse_credentials = True
    with pytest.raises(openai.InternalServerError) as error:
        sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}])
    response = error.value.response
    assert response.status_code == 502
    assert "refused Tollgate's credentials" in response.json()["error"]["message"]
    assert PROVIDER_A not in response.text and "Incorrect API key" not in response.text
    assert used() == 0
    log = live.output()
    assert "upstream a failed: credentials_refused" in log and PROVIDER_A not in log and sdk.api_key not in log


def test_each_upstream_gets_its_own_provider_key_and_never_the_users(sdk, two):
    a, b = two
    sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}])
    sdk.embeddings.create(model="embed-b", input="x")
    assert last(a)["headers"]["authorization"] == f"Bearer {PROVIDER_A}"
    assert last(b)["headers"]["authorization"] == f"Bearer {PROVIDER_B}"
    user_key = sdk.api_key
    assert all(user_key not in str(r["headers"]) for r in a.requests + b.requests)


def test_a_disabled_model_or_upstream_leaves_the_catalogue(sdk, two):
    CatalogModel.objects.filter(name="shared").update(enabled=False)
    assert "shared" not in [m.id for m in sdk.models.list()]
    Upstream.objects.filter(name="b").update(enabled=False)
    with pytest.raises(openai.NotFoundError):
        sdk.embeddings.create(model="embed-b", input="x")


def test_multipart_without_a_model_field_gets_the_default_model(live, user, key_factory, upstream_server):
    upstream_server.reset()
    _, plaintext = key_factory(user)
    files = {"file": ("a.wav", b"RIFF....", "audio/wav")}
    response = httpx.post(live.url + "/v1/audio/transcriptions", headers={"x-api-key": plaintext}, files=files)
    assert response.status_code == 200
    assert upstream_server.requests[-1]["json"]["model"] == "loopback-model"


def test_each_upstreams_answers_errors_and_times_are_kept_per_day(sdk, two, live):
    import time

    from gateway.models import UpstreamDay

    a, _ = two
    sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}])
    a.fail_status = 500
    with pytest.raises(openai.APIStatusError):
        sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}])
    deadline = time.monotonic() + 8  # written every 5 seconds
    while time.monotonic() < deadline and not UpstreamDay.objects.filter(upstream__name="a").exists():
        time.sleep(0.2)
    row = UpstreamDay.objects.get(upstream__name="a")
    assert (row.requests, row.errors) == (2, 1) and row.seconds > 0
    upstream = Upstream.objects.get(name="a")
    assert upstream.last_success_at is not None and "failed" in upstream.last_error


def test_upstream_errors_are_logged_with_the_upstreams_name_and_status(sdk, two, live):
    a, _ = two
    a.fail_status = 503
    with pytest.raises(openai.APIStatusError):
        sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "x"}])
    assert "upstream a failed: failed, The model server failed (HTTP 503)." in live.output()
