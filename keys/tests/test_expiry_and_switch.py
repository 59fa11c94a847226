"""Keys that expire, and keys that move to another plan without refilling the day."""

import datetime
import json

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from keys import services
from keys.exceptions import BadExpiry, KeyAlreadyExists, KeyExpired, KeyRevoked, SamePlan
from keys.metering import used_sync
from keys.models import ApiKey, QuotaCounter
from portal.asgi import application

pytestmark = pytest.mark.django_db


def days_from_now(key: ApiKey) -> float:
    return (key.expires_at - timezone.now()) / datetime.timedelta(days=1)


def test_a_key_expires_when_asked_within_the_plans_maximum(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=7)
    assert 6.99 < days_from_now(key) <= 7
    never, _ = services.key_create(owner=user, plan_name="20RequestPerDay")
    assert never.expires_at is None
    plans["30RequestPerDay"].max_key_days = 30
    plans["30RequestPerDay"].save()
    with pytest.raises(BadExpiry, match="at most 30 days"):
        services.key_create(owner=user, plan_name="30RequestPerDay", expires_in_days=90)
    capped, _ = services.key_create(owner=user, plan_name="30RequestPerDay")  # never becomes the maximum
    assert 29.99 < days_from_now(capped) <= 30


@pytest.mark.parametrize("days", [0, -1, 3651, True, "7"])
def test_a_lifetime_that_makes_no_sense_is_refused(user, plans, days):
    with pytest.raises(BadExpiry):
        services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=days)
    assert not ApiKey.objects.exists()


def test_the_api_takes_expires_in_days_and_shows_expires_at(alice_client, plans):
    response = alice_client.post(
        "/api/v1/keys/", json.dumps({"plan": "10RequestPerDay", "expires_in_days": 30}), content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["expires_at"] is not None
    listed = alice_client.get("/api/v1/keys/").json()
    assert listed[0]["expires_at"] == response.json()["expires_at"] and listed[0]["status"] == "active"
    bad = alice_client.post(
        "/api/v1/keys/", json.dumps({"plan": "20RequestPerDay", "expires_in_days": 0}), content_type="application/json"
    )
    assert bad.status_code == 400 and "expires_in_days" in bad.json()


async def post_chat(key: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        body = {"messages": [{"role": "user", "content": "hi"}]}
        return await client.post("/v1/chat/completions", headers={"x-api-key": key}, json=body)


@pytest.mark.django_db(transaction=True)
async def test_an_expired_key_gets_401_key_expired_and_is_not_charged(user, key_factory, upstream):
    from asgiref.sync import sync_to_async

    key, plaintext = await sync_to_async(key_factory)(user)
    await ApiKey.objects.filter(pk=key.pk).aupdate(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = await post_chat(plaintext)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "key_expired" and "/keys/" in response.json()["error"]["message"]
    assert upstream.requests == [] and not await QuotaCounter.objects.filter(used__gt=0).aexists()


def test_an_expired_key_does_not_block_a_new_key_in_its_plan(user, plans):
    old, _ = services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=7)
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    new, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    assert ApiKey.objects.get(pk=old.pk).revoked_at is not None and new.is_active
    with pytest.raises(KeyRevoked):
        services.key_rotate(key=ApiKey.objects.get(pk=old.pk))


def test_rotating_an_expired_key_is_refused(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=7)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(KeyExpired):
        services.key_rotate(key=ApiKey.objects.get(pk=key.pk))


def test_expire_keys_revokes_what_is_due_and_nothing_else(user, other_user, plans):
    due, _ = services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=7)
    fine, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay", expires_in_days=7)
    ApiKey.objects.filter(pk=due.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    call_command("expire_keys")
    assert ApiKey.objects.get(pk=due.pk).revoked_at is not None and ApiKey.objects.get(pk=fine.pk).is_active


def test_pages_warn_seven_days_before_expiry(alice_client, user, plans):
    soon, _ = services.key_create(owner=user, plan_name="10RequestPerDay", expires_in_days=7)
    later, _ = services.key_create(owner=user, plan_name="20RequestPerDay", expires_in_days=30)
    keys_page = alice_client.get("/keys/").content.decode()
    assert keys_page.count("expires in") == 1 and "Expires in 90 days" in keys_page
    assert "This key expires in" in alice_client.get("/").content.decode()
    ApiKey.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + datetime.timedelta(days=8))
    assert "expires in" not in alice_client.get("/keys/").content.decode()


def test_generate_key_on_the_page_with_a_lifetime(alice_client, user, plans):
    response = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay", "expires_in_days": "30"})
    assert response.status_code == 200
    assert 29.99 < days_from_now(ApiKey.objects.get(owner=user)) <= 30
    bad = alice_client.post("/keys/generate", {"plan_name": "20RequestPerDay", "expires_in_days": "soon"})
    assert bad.status_code == 400 and "whole number of days" in bad.content.decode()


def spend(user, plan, n: int) -> None:
    QuotaCounter.objects.update_or_create(
        owner_id=user.pk, plan=plan, day=datetime.datetime.now(datetime.UTC).date(), defaults={"used": n}
    )


def test_switching_carries_the_days_count_over(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    spend(user, plans["10RequestPerDay"], 8)
    services.key_switch_plan(key=key, plan_name="20RequestPerDay")
    key.refresh_from_db()
    assert key.plan == plans["20RequestPerDay"]
    assert used_sync(owner_id=user.pk, plan=key.plan) == 8  # 12 left of 20, not 20
    services.key_switch_plan(key=key, plan_name="10RequestPerDay")
    assert used_sync(owner_id=user.pk, plan=plans["10RequestPerDay"]) == 8  # never refilled


def test_switch_refusals(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_create(owner=user, plan_name="20RequestPerDay")
    with pytest.raises(KeyAlreadyExists, match="20RequestPerDay"):
        services.key_switch_plan(key=key, plan_name="20RequestPerDay")
    with pytest.raises(SamePlan):
        services.key_switch_plan(key=key, plan_name="10RequestPerDay")
    services.key_revoke(key=key)
    with pytest.raises(KeyRevoked):
        services.key_switch_plan(key=key, plan_name="30RequestPerDay")
    assert ApiKey.objects.get(pk=key.pk).plan == plans["10RequestPerDay"]


def test_switch_through_the_api_and_the_page(alice_client, user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    response = alice_client.post(
        f"/api/v1/keys/{key.pk}/switch/", json.dumps({"plan": "30RequestPerDay"}), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["plan"] == "30RequestPerDay"
    unknown = alice_client.post(
        f"/api/v1/keys/{key.pk}/switch/", json.dumps({"plan": "Gold"}), content_type="application/json"
    )
    assert unknown.status_code == 400 and "Gold" in unknown.json()["detail"]
    page = alice_client.post(f"/keys/{key.pk}/switch", {"plan_name": "20RequestPerDay"}, follow=True)
    assert "now uses 20RequestPerDay" in page.content.decode()
    assert ApiKey.objects.get(pk=key.pk).plan == plans["20RequestPerDay"]


def test_someone_elses_key_cannot_be_switched(client, other_user, user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    client.force_login(other_user)
    response = client.post(
        f"/api/v1/keys/{key.pk}/switch/", json.dumps({"plan": "30RequestPerDay"}), content_type="application/json"
    )
    assert response.status_code == 404 and ApiKey.objects.get(pk=key.pk).plan == plans["10RequestPerDay"]


def test_switching_applies_the_new_plans_longest_life(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    assert key.expires_at is None
    plans["20RequestPerDay"].max_key_days = 7
    plans["20RequestPerDay"].save()
    services.key_switch_plan(key=key, plan_name="20RequestPerDay")
    key.refresh_from_db()
    assert 6.99 < days_from_now(key) <= 7


@pytest.mark.django_db(transaction=True)
async def test_a_process_with_the_old_plan_cached_never_admits_past_the_new_plans_limit(user, plans):
    """Another worker keeps the key's old facts for a moment after a switch: it is sent to the new plan."""
    from asgiref.sync import sync_to_async

    from keys import metering
    from keys.metering.keycache import key_info_load

    key, _ = await sync_to_async(services.key_create)(owner=user, plan_name="20RequestPerDay")
    stale = await sync_to_async(key_info_load)(key_id=key.pk)
    for _ in range(15):
        assert (await metering.admit(stale)).admitted
    await sync_to_async(services.key_switch_plan)(key=key, plan_name="30RequestPerDay")
    fresh = await sync_to_async(key_info_load)(key_id=key.pk)
    verdicts = [await metering.admit(stale) for _ in range(10)] + [await metering.admit(fresh) for _ in range(20)]
    assert sum(v.admitted for v in verdicts) == 15, "30 in the day, 15 of them before the switch"
    moved = [v for v in verdicts[:10] if v.admitted]
    assert moved and all(v.info.plan_name == "30RequestPerDay" for v in moved)
