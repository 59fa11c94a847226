"""Usage alerts: mailed at 80% and 100% of a key's day, once each, and never to a user who turned them off."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from conftest import post_v1
from keys.metering import utc_today
from usage import alerts
from usage.models import UsageAlert

pytestmark = pytest.mark.django_db


CHAT = {"messages": [{"role": "user", "content": "one two three"}]}


async def chat(key: str):
    return await post_v1(key, CHAT)


@pytest.mark.django_db(transaction=True)
async def test_alerts_at_80_and_100_percent_are_mailed_once_each(user, key_factory, upstream):
    key, plaintext = await sync_to_async(key_factory)(user)  # 10 a day
    for _ in range(12):
        await chat(plaintext)
    await sync_to_async(alerts.alerts_wait)()
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 2 and "used 80% of" in subjects[0] and "used all of" in subjects[1]
    assert all(m.to == [user.email] for m in mail.outbox)
    assert await UsageAlert.objects.filter(key=key).acount() == 2
    again = alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=80)
    assert await asyncio.wrap_future(again) is False and len(mail.outbox) == 2  # once only


@pytest.mark.django_db(transaction=True)
def test_users_can_turn_alerts_off(alice_client, user, key_factory):
    key, _ = key_factory(user)
    alice_client.post("/account/", {})
    assert 'name="usage_alerts" checked' not in alice_client.get("/account/").content.decode()
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=80).result() is False
    assert mail.outbox == []
    alice_client.post("/account/", {"usage_alerts": "on"})
    assert 'name="usage_alerts" checked' in alice_client.get("/account/").content.decode()
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=100).result() is True
    assert len(mail.outbox) == 1
