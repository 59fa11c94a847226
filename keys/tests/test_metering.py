"""The metering door: authentication with its key cache, admission, refunds."""

import pytest
from asgiref.sync import sync_to_async

from keys import metering, services
from keys.metering import keycache

pytestmark = pytest.mark.django_db(transaction=True)


async def test_revoking_forgets_the_cached_key_in_this_process_at_once(user, key_factory):
    key, plaintext = await sync_to_async(key_factory)(user)
    assert (await metering.authenticate(plaintext)).key_id == key.pk  # now cached for seconds
    await sync_to_async(services.key_revoke)(key=key)
    assert await metering.authenticate(plaintext) is None


async def test_a_mistyped_key_is_refused_without_a_query(user, key_factory, monkeypatch):
    _, plaintext = await sync_to_async(key_factory)(user)

    async def no_database(*args):
        raise AssertionError("a mistyped key reached the database")

    monkeypatch.setattr(keycache, "in_db_thread", no_database)
    typo = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert await metering.authenticate(typo) is None


async def test_admit_then_refund_leaves_the_day_as_it_was(user, key_factory):
    key, _ = await sync_to_async(key_factory)(user)
    info = await metering.key_load(key.pk)
    verdict = await metering.admit(info)
    assert verdict.admitted and verdict.admission.remaining == 9
    assert await metering.used(info) == 1
    await metering.refund(info)
    assert await metering.used(info) == 0
