import pytest

from keys.metering import utc_today
from keys.models import ApiKey, DailyUsage

pytestmark = pytest.mark.django_db


def test_plans_list_shows_active_key_counts(staff_client, user, other_user, key_factory):
    key_factory(user, "10RequestPerDay")
    revoked, _ = key_factory(other_user, "10RequestPerDay")
    revoked.revoked_at = revoked.created_at
    revoked.save()
    page = staff_client.get("/admin/keys/plan/").content.decode()
    row = page[page.index("10RequestPerDay") :]
    assert '<td class="field-active_keys">1</td>' in row


def test_staff_edit_a_plans_limit(staff_client, plans):
    plan = plans["10RequestPerDay"]
    response = staff_client.post(
        f"/admin/keys/plan/{plan.pk}/change/",
        {"name": plan.name, "requests_per_day": 12, "description": "", "is_active": "on", "order": 1},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.requests_per_day == 12


def test_keys_search_filter_and_no_secret(staff_client, user, key_factory):
    key, plaintext = key_factory(user)
    DailyUsage.objects.create(key=key, day=utc_today(), requests=4, prompt_tokens=10, completion_tokens=20)
    listing = staff_client.get("/admin/keys/apikey/", {"q": "alice@"}).content.decode()
    assert key.public_prefix in listing
    assert key.public_prefix not in staff_client.get("/admin/keys/apikey/", {"q": "nobody"}).content.decode()
    assert key.public_prefix not in staff_client.get("/admin/keys/apikey/", {"status": "revoked"}).content.decode()
    detail = staff_client.get(f"/admin/keys/apikey/{key.pk}/change/").content.decode()
    assert plaintext not in detail and key.hashed_secret not in detail
    assert "recent usage" in detail.lower() and ">4<" in detail.replace(" ", "").replace("\n", "")
    assert "0 of 10" in detail  # today's count, as the quota store has it
    assert staff_client.get("/admin/keys/apikey/add/").status_code == 403


def test_revoke_action(staff_client, user, key_factory):
    key, _ = key_factory(user)
    response = staff_client.post(
        "/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )
    assert "Revoked 1 key" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
