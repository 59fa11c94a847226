import json

import pytest
from django.test import Client

from keys import services
from keys.models import ApiKey

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, payload: object, **extra):
    return client.post(url, json.dumps(payload), content_type="application/json", **extra)


def test_plan_lists_the_seed_shape(client, plans):
    response = client.get("/plan")
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body] == ["10RequestPerDay", "20RequestPerDay", "30RequestPerDay"]
    assert body[0]["requests_per_day"] == 10


def test_create_key_returns_the_value_once(alice_client, user, plans):
    response = post_json(alice_client, "/create_key", {"plan_name": "10RequestPerDay", "user": ""})
    assert response.status_code == 200
    value = response.json()["value"]
    assert value.startswith("tg-")
    key = ApiKey.objects.get(owner=user)
    assert value[3:11] == key.prefix
    page = alice_client.get("/keys/").content.decode()
    assert value not in page and key.public_prefix in page


def test_create_key_for_own_email_is_allowed_case_insensitively(alice_client, plans):
    response = post_json(alice_client, "/create_key", {"plan_name": "20RequestPerDay", "user": "Alice@Example.com"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"plan_name": "NoSuchPlan", "user": ""}, 400),
        ({"user": ""}, 400),
        ({"plan_name": ["10RequestPerDay"]}, 400),
        ([1, 2], 400),
        ({"plan_name": "10RequestPerDay", "user": "bob@example.com"}, 403),
    ],
)
def test_create_key_bad_input(alice_client, plans, payload, status):
    response = post_json(alice_client, "/create_key", payload)
    assert response.status_code == status
    assert not ApiKey.objects.exists()


def test_create_key_malformed_json_is_400(alice_client, plans):
    response = alice_client.post("/create_key", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_unknown_plan_message_is_actionable(alice_client, plans):
    body = post_json(alice_client, "/create_key", {"plan_name": "Gold"}).json()
    assert "Gold" in body["detail"] and "/plan" in body["detail"]


def test_duplicate_is_409_key_already_exists(alice_client, plans):
    post_json(alice_client, "/create_key", {"plan_name": "10RequestPerDay"})
    response = post_json(alice_client, "/create_key", {"plan_name": "10RequestPerDay"})
    assert response.status_code == 409
    assert response.json()["detail"] == "Key already exists"


def test_backend_failure_is_500_create_failed_with_nothing_made(alice_client, plans, settings):
    settings.KEYS_BACKEND = "keys.tests.test_services.FailingBackend"
    response = post_json(alice_client, "/create_key", {"plan_name": "10RequestPerDay"})
    assert response.status_code == 500
    assert response.json()["message"] == "create failed"
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("operation", ["revoke", "rotate"])
def test_backend_failure_names_the_operation_that_failed(alice_client, user, plans, settings, operation):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    settings.KEYS_BACKEND = "keys.tests.test_services.FailingBackend"
    response = alice_client.post(f"/api/v1/keys/{key.pk}/{operation}/")
    assert response.status_code == 500
    assert response.json() == {"message": f"{operation} failed", "detail": "The key store is down."}
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_not_logged_in_is_refused_not_redirected(client, plans):
    response = post_json(client, "/create_key", {"plan_name": "10RequestPerDay"})
    # 403, as DRF answers a session-authenticated API: there is no WWW-Authenticate scheme to offer.
    assert response.status_code == 403
    assert "location" not in response.headers
    assert "credentials were not provided" in response.json()["detail"]


def test_session_api_requires_csrf():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("c@example.com", "c@example.com", "pw-123456789")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = post_json(client, "/create_key", {"plan_name": "10RequestPerDay"})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_rest_api_key_lifecycle(alice_client, plans):
    created = post_json(alice_client, "/api/v1/keys/", {"plan": "30RequestPerDay", "label": "bot"})
    assert created.status_code == 201
    body = created.json()
    assert body["value"].startswith("tg-") and body["status"] == "active" and body["label"] == "bot"
    listed = alice_client.get("/api/v1/keys/").json()
    assert [k["id"] for k in listed] == [body["id"]] and "value" not in listed[0]
    rotated = alice_client.post(f"/api/v1/keys/{body['id']}/rotate/").json()
    assert rotated["value"] != body["value"] and rotated["plan"] == "30RequestPerDay"
    revoked = alice_client.post(f"/api/v1/keys/{rotated['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = alice_client.post(f"/api/v1/keys/{rotated['id']}/revoke/")
    assert again.status_code == 409


def test_rest_api_hides_other_users_keys(client, user, other_user, key_factory):
    bob_key, _ = key_factory(other_user)
    client.force_login(user)
    assert client.get("/api/v1/keys/").json() == []
    assert client.post(f"/api/v1/keys/{bob_key.pk}/revoke/").status_code == 404
    assert client.post(f"/api/v1/keys/{bob_key.pk}/rotate/").status_code == 404
    assert ApiKey.objects.get(pk=bob_key.pk).is_active


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/create_key" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs and "cdn" not in docs.lower()
