"""While the database or Redis is away: 503s people and scripts can act on, never a 500."""

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.test import Client

import gateway.catalogue as catalogue_module
from conftest import post_v1

pytestmark = pytest.mark.django_db(transaction=True)
CHAT = {"model": "loopback-model", "messages": [{"role": "user", "content": "hi"}]}


def down(*args, **kwargs):
    raise OperationalError("could not connect to server: Connection refused")


async def test_the_catalogue_serves_its_last_snapshot_while_the_database_is_away(
    user, key_factory, upstream, settings, monkeypatch
):
    settings.GATEWAY_CATALOGUE_SECONDS = 0
    _, plaintext = await sync_to_async(key_factory)(user)
    assert (await post_v1(plaintext, CHAT)).status_code == 200
    monkeypatch.setattr(catalogue_module, "snapshot_load", down)
    assert (await post_v1(plaintext, CHAT)).status_code == 200


async def test_v1_answers_503_json_when_a_store_is_away_before_anything_was_cached(
    user, key_factory, upstream, monkeypatch
):
    _, plaintext = await sync_to_async(key_factory)(user)
    monkeypatch.setattr(catalogue_module, "snapshot_load", down)
    response = await post_v1(plaintext, CHAT)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable" and response.headers["retry-after"]


def test_pages_answer_a_styled_503_not_a_500(user, monkeypatch):
    import keys.selectors

    monkeypatch.setattr(keys.selectors, "key_rows", down)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.get("/keys/")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Back in a moment" in response.content.decode()


def test_a_bug_is_still_a_500(user, monkeypatch):
    import keys.selectors

    def bug(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(keys.selectors, "key_rows", bug)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.get("/keys/")
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()
