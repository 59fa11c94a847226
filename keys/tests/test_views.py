import pytest

from keys.models import ApiKey

pytestmark = pytest.mark.django_db


def test_keys_page_requires_login(client):
    response = client.get("/keys/")
    assert response.status_code == 302 and "/accounts/login/" in response["location"]


def test_keys_page_lists_plans_with_generate_buttons_and_empty_state(alice_client, plans):
    page = alice_client.get("/keys/").content.decode()
    assert page.count(">Generate Key</button>") == 3
    assert "No keys yet" in page


def test_generate_shows_the_key_once_with_snippets(alice_client, user, plans):
    response = alice_client.post("/keys/generate", {"plan_name": "20RequestPerDay", "label": "laptop"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = response.context["plaintext"]
    page = response.content.decode()
    assert page.count(plaintext) >= 3  # the field, curl and the openai snippet
    assert "This is the only time it is shown" in page
    assert 'base_url="http://testserver/v1"' in page
    later = alice_client.get("/keys/").content.decode()
    assert plaintext not in later
    key = ApiKey.objects.get(owner=user)
    assert key.public_prefix in later and "laptop" in later
    assert "0 / 20" in later
    session_data = str(dict(alice_client.session))
    assert plaintext not in session_data


def test_generate_duplicate_explains_itself(alice_client, plans):
    alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"})
    response = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"})
    assert response.status_code == 409
    assert "already have an active key" in response.content.decode()


def test_generate_unknown_plan_is_400_with_message(alice_client, plans):
    response = alice_client.post("/keys/generate", {"plan_name": "Nope"})
    assert response.status_code == 400 and "Unknown plan" in response.content.decode()


def test_revoke_and_rotate_from_the_page(alice_client, user, key_factory):
    key, _ = key_factory(user)
    response = alice_client.post(f"/keys/{key.pk}/rotate")
    new_plain = response.context["plaintext"]
    assert new_plain and response.context["new_key"].plan_id == key.plan_id
    new_key = response.context["new_key"]
    response = alice_client.post(f"/keys/{new_key.pk}/revoke", follow=True)
    assert "revoked" in response.content.decode()
    assert not ApiKey.objects.filter(owner=user, revoked_at__isnull=True).exists()


def test_other_users_keys_are_404(alice_client, other_user, key_factory):
    bob_key, _ = key_factory(other_user)
    assert alice_client.post(f"/keys/{bob_key.pk}/revoke").status_code == 404
    assert alice_client.post(f"/keys/{bob_key.pk}/rotate").status_code == 404
    assert bob_key.public_prefix not in alice_client.get("/keys/").content.decode()


def test_keys_page_refuses_get_on_actions(alice_client, user, key_factory):
    key, _ = key_factory(user)
    assert alice_client.get(f"/keys/{key.pk}/revoke").status_code == 405
