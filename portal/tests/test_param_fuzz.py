"""No parameter of the keys and chat pages or their APIs gives a 500, whatever its characters or length."""

import json

import pytest
from django.test import Client

from chat.models import Conversation

pytestmark = pytest.mark.django_db
# '²' passes str.isdigit() but not int(); NUL is refused by PostgreSQL; the rest probe lengths and signs.
VALUES = ["²", "\x00", "1\x00", "x" * 10_240, "9" * 5_000, "-1", "-99999999999999999999", "٣", " 1 "]
HUGE_PK = "9" * 30


@pytest.fixture
def browser_client(user, plans) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def owned(user, key_factory):
    key, _ = key_factory(user)
    conversation = Conversation.objects.create(owner=user, title="Mine")
    return key, conversation


def requests(key_pk: int, conversation_pk: int, value: str):
    """(method, path, form or JSON body) for every parameter a user can send these pages and APIs."""
    form = {"plan_name": value, "label": value, "expires_in_days": value}
    yield "get", f"/keys/?x={value}", None
    yield "post", "/keys/generate", form
    yield "post", "/keys/generate", {**form, "plan_name": "20RequestPerDay"}
    yield "post", f"/keys/{key_pk}/switch", {"plan_name": value}
    yield "post", f"/keys/{HUGE_PK}/revoke", {}
    yield "post", f"/keys/{HUGE_PK}/rotate", {}
    yield "get", f"/chat/?c={value}", None
    yield "post", f"/chat/{conversation_pk}/rename", {"title": value}
    yield "post", f"/chat/{HUGE_PK}/delete", {}
    yield "get", f"/plan?x={value}", None
    yield "json", "/create_key", {"plan_name": value, "user": value}
    yield "json", "/api/v1/keys/", {**form, "plan_name": "20RequestPerDay"}
    yield "post", "/api/v1/keys/", {**form, "plan_name": "30RequestPerDay"}
    yield "json", f"/api/v1/keys/{key_pk}/switch/", {"plan": value}
    yield "json", f"/api/v1/keys/{HUGE_PK}/revoke/", {}


@pytest.mark.parametrize("value", VALUES, ids=lambda v: repr(v[:12]))
def test_no_parameter_gives_a_500(browser_client, owned, value):
    key, conversation = owned
    for method, path, data in requests(key.pk, conversation.pk, value):
        if method == "json":
            response = browser_client.post(path, json.dumps(data), content_type="application/json")
        elif method == "post":
            response = browser_client.post(path, data)
        else:
            response = browser_client.get(path)
        assert response.status_code < 500, (method, path[:60], data and str(data)[:60])


def test_a_unicode_digit_conversation_goes_back_to_the_chat_page(browser_client, owned):
    response = browser_client.get("/chat/?c=²")
    assert response.status_code == 302 and response["Location"] == "/chat/"


@pytest.mark.parametrize("days", ["²", "9" * 5_000, "٣"])
def test_unusable_days_on_the_keys_page_are_a_clear_400(browser_client, days):
    response = browser_client.post("/keys/generate", {"plan_name": "10RequestPerDay", "expires_in_days": days})
    assert response.status_code == 400


def test_nul_bytes_never_reach_the_database(browser_client, user):
    response = browser_client.post("/keys/generate", {"plan_name": "10RequestPerDay", "label": "work\x00laptop"})
    assert response.status_code == 200
    assert user.api_keys.get().label == "worklaptop"
