"""Key scopes: allowed addresses (behind trusted proxies too), allowed models, and a key's own cap."""

import httpx
import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from gateway.models import CatalogModel
from keys.models import ApiKey, Refusal
from keys.services import key_create, key_scopes_set
from plumbing.addresses import client_address
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ASK = {"messages": [{"role": "user", "content": "hi"}]}


async def call(key: str, *, peer: str = "127.0.0.1", body=ASK, path="/v1/chat/completions", headers=None):
    transport = httpx.ASGITransport(app=application, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        if path == "/v1/models":
            return await client.get(path, headers={"x-api-key": key, **(headers or {})})
        return await client.post(path, headers={"x-api-key": key, **(headers or {})}, json=body)


@pytest.fixture
def made(user, plans):
    return key_create(owner=user, plan_name="10RequestPerDay")


def scoped(key, **scopes) -> ApiKey:
    return key_scopes_set(key=key, **scopes)


async def test_allowed_addresses_ipv4_and_ipv6_and_refusals_are_not_charged(made, upstream):
    key, plaintext = made
    await sync_to_async(scoped)(key, allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    assert (await call(plaintext, peer="203.0.113.9")).status_code == 200
    assert (await call(plaintext, peer="2001:db8::5")).status_code == 200
    for stranger in ("198.51.100.1", "2001:db9::1"):
        refused = await call(plaintext, peer=stranger)
        assert refused.status_code == 403, stranger
        error = refused.json()["error"]
        assert error["code"] == "ip_not_allowed" and error["type"] == "invalid_request_error"
        assert stranger in error["message"] and "not charged" in error["message"]
    models = await call(plaintext, peer="198.51.100.1", path="/v1/models")
    assert models.status_code == 403
    assert len(upstream.requests) == 2
    ok = await call(plaintext, peer="203.0.113.9")
    assert ok.headers["x-ratelimit-remaining-requests"] == "7"  # the two refusals cost nothing


async def test_forwarded_for_counts_only_from_a_trusted_proxy(made, upstream, settings):
    key, plaintext = made
    await sync_to_async(scoped)(key, allowed_ips=["203.0.113.7"])
    spoofed = {"x-forwarded-for": "203.0.113.7"}
    # From an untrusted peer the header is ignored: the peer is the client.
    assert (await call(plaintext, peer="198.51.100.1", headers=spoofed)).status_code == 403
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert (await call(plaintext, peer="10.1.2.3", headers=spoofed)).status_code == 200
    assert (await call(plaintext, peer="fd00::1", headers=spoofed)).status_code == 200
    # The right-most entry that is not a trusted proxy is the client; what the client wrote left of it is not.
    chain = {"x-forwarded-for": "203.0.113.7, 198.51.100.1, 10.9.9.9"}
    assert (await call(plaintext, peer="10.1.2.3", headers=chain)).status_code == 403
    forged = {"x-forwarded-for": "not-an-address"}
    assert (await call(plaintext, peer="10.1.2.3", headers=forged)).status_code == 403


def test_client_address_rules(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address("10.0.0.1", "1.2.3.4, 10.0.0.2") == "1.2.3.4"
    assert client_address("10.0.0.1", "10.0.0.3") == "10.0.0.1"  # only proxies: the peer
    assert client_address("8.8.8.8", "1.2.3.4") == "8.8.8.8"
    assert client_address("10.0.0.1", "") == "10.0.0.1"


async def test_allowed_models_limit_calls_and_the_model_list(made, upstream, plans):
    key, plaintext = made
    for name in ("loopback-model", "other-model", "third-model"):
        await CatalogModel.objects.acreate(name=name, upstream_model="loopback-model")
    from gateway.catalogue import catalogue_forget
    from gateway.models import Upstream

    loopback = await Upstream.objects.acreate(name="loop", base_url=upstream.base_url)
    async for row in CatalogModel.objects.all():
        await sync_to_async(row.upstreams.add)(loopback)
    catalogue_forget()
    await sync_to_async(scoped)(key, allowed_models=["other-model"])
    listed = await call(plaintext, path="/v1/models")
    assert [card["id"] for card in listed.json()["data"]] == ["other-model"]
    refused = await call(plaintext, body={**ASK, "model": "third-model"})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"
    assert (
        "other-model" in refused.json()["error"]["message"] and "third-model." not in refused.json()["error"]["message"]
    )
    assert (await call(plaintext, body={**ASK, "model": "other-model"})).status_code == 200
    assert len(upstream.requests) == 1


async def test_a_keys_own_cap_refuses_under_the_plans_limit(made, upstream):
    key, plaintext = made
    await sync_to_async(scoped)(key, max_requests=3)
    statuses = [(await call(plaintext)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await call(plaintext)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (
        error["type"] == "requests"
        and "capped at 3 requests" in error["message"]
        and key.public_prefix in error["message"]
    )
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    from keys.metering import usage_flush

    await sync_to_async(usage_flush)()
    assert await Refusal.objects.filter(key=key, reason="key_requests").aexists()
    # Raising the cap applies at once here; the plan's 10 still bound it.
    await sync_to_async(scoped)(key, max_requests=None)
    assert (await call(plaintext)).headers["x-ratelimit-remaining-requests"] == "6"


def test_bad_scopes_get_400_naming_the_bad_entry(made, user, plans):
    key, _ = made
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/v1/keys/{key.pk}/"
    cases = [
        ({"allowed_ips": ["10.0.0.1", "10.0.0.300"]}, "'10.0.0.300'"),
        ({"allowed_ips": "nope"}, "'nope'"),
        ({"max_requests": 11}, "above the plan's 10"),
        ({"max_requests": 0}, "at least 1"),
        ({"max_requests": "²"}, "whole number"),
        ({"allowed_ips": [1, 2]}, "list of strings"),
    ]
    for body, named in cases:
        answer = client.patch(url, body, format="json")
        assert answer.status_code == 400 and named in answer.json()["detail"], (body, answer.content)
    ok = client.patch(url, {"allowed_ips": ["10.0.0.1/8", "::1"], "max_requests": 5}, format="json")
    assert ok.status_code == 200 and ok.json()["allowed_ips"] == ["10.0.0.0/8", "::1/128"]
    assert ok.json()["max_requests"] == 5
    key.refresh_from_db()
    assert key.max_requests == 5


def test_a_model_the_plan_does_not_grant_is_refused_by_name(made, user, plans, upstream):
    key, _ = made
    from gateway.catalogue import catalogue_forget

    granted = CatalogModel.objects.create(name="granted-model", upstream_model="x")
    granted.plans.add(plans["10RequestPerDay"])
    CatalogModel.objects.create(name="premium-model", upstream_model="x").plans.add(plans["30RequestPerDay"])
    catalogue_forget()
    client = APIClient()
    client.force_authenticate(user)
    answer = client.patch(f"/api/v1/keys/{key.pk}/", {"allowed_models": ["premium-model"]}, format="json")
    assert answer.status_code == 400 and "'premium-model'" in answer.json()["detail"]
    assert (
        client.patch(f"/api/v1/keys/{key.pk}/", {"allowed_models": ["granted-model"]}, format="json").status_code == 200
    )


def test_other_users_keys_cannot_be_scoped(made, other_user):
    key, _ = made
    client = APIClient()
    client.force_authenticate(other_user)
    assert client.patch(f"/api/v1/keys/{key.pk}/", {"max_requests": 1}, format="json").status_code == 404
    key.refresh_from_db()
    assert key.max_requests is None


def test_the_keys_page_edits_scopes(made, alice_client):
    key, _ = made
    page = alice_client.get("/keys/").content.decode()
    assert "Edit limits" in page and f'action="/keys/{key.pk}/scopes"' in page
    saved = alice_client.post(
        f"/keys/{key.pk}/scopes", {"allowed_ips": "192.0.2.1\n2001:db8::/48", "max_requests": "4"}
    )
    assert saved.status_code == 302
    key.refresh_from_db()
    assert key.allowed_ips == ["192.0.2.1/32", "2001:db8::/48"] and key.max_requests == 4
    bad = alice_client.post(f"/keys/{key.pk}/scopes", {"allowed_ips": "banana"}, follow=True)
    assert "&#x27;banana&#x27; in allowed_ips" in bad.content.decode()
    key.refresh_from_db()
    assert key.allowed_ips == ["192.0.2.1/32", "2001:db8::/48"]


def test_a_malformed_trusted_proxy_fails_the_system_check(settings):
    from gateway.checks import check_trusted_proxies

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "10.0.0.0/33"]
    errors = check_trusted_proxies()
    assert len(errors) == 1 and "'10.0.0.0/33'" in errors[0].msg and errors[0].id == "gateway.E003"


async def test_rotating_a_capped_key_does_not_refill_its_cap_and_v1_key_tells_it(made, upstream):
    from keys.services import key_rotate

    key, plaintext = made
    await sync_to_async(scoped)(key, max_requests=2)
    assert [(await call(plaintext)).status_code for _ in range(2)] == [200, 200]
    _, rotated = await sync_to_async(key_rotate)(key=key)
    assert (await call(rotated)).status_code == 429
    transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        state = (await client.get("/v1/key", headers={"x-api-key": rotated})).json()
    assert state["key_cap"] == {"limit": 2, "used": 2, "remaining": 0}
    assert state["requests"]["remaining"] == 0 and state["requests"]["limit"] == 10


def test_saving_limits_without_a_catalogue_keeps_the_models(made, alice_client):
    key, _ = made
    key_scopes_set(key=key, allowed_models=["only-this"])
    alice_client.post(f"/keys/{key.pk}/scopes", {"allowed_ips": "", "max_requests": "3"})
    key.refresh_from_db()
    assert key.allowed_models == ["only-this"] and key.max_requests == 3


def test_entries_with_control_characters_or_mapped_addresses(made):
    key, _ = made
    from keys.exceptions import BadScope

    with pytest.raises(BadScope, match="control characters"):
        key_scopes_set(key=key, allowed_models=["a\x00b"])
    with pytest.raises(BadScope, match="longer than 128"):
        key_scopes_set(key=key, allowed_models=["m" * 129])
    with pytest.raises(BadScope, match="fe80::1%eth0"):
        key_scopes_set(key=key, allowed_ips=["fe80::1%eth0"])
    assert key_scopes_set(key=key, allowed_ips=["::ffff:1.2.3.0/120"]).allowed_ips == ["1.2.3.0/24"]
