"""The audit trail: each event writes its row, users see only their own, staff read it all, nobody edits it."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from conftest import PASSWORD
from keys import services
from keys.models import ApiKey, Plan

pytestmark = pytest.mark.django_db


def actions(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list("action", flat=True))


def test_sign_up_log_in_and_a_failed_log_in_are_recorded(client, user):
    client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
    )
    assert "account.signed_up" in actions(actor_email="new@example.com")
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": user.email, "password": "wrong-password"})
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    failed = AuditEvent.objects.get(action="account.login_failed")
    assert failed.target == user.email and failed.subject == user and failed.actor is None
    assert failed.ip == "127.0.0.1" and "wrong-password" not in str(AuditEvent.objects.values())
    assert AuditEvent.objects.filter(action="account.logged_in", actor=user).exists()


def test_key_events_are_recorded_without_their_secret(alice_client, user, plans):
    key, first = services.key_create(owner=user, plan_name="10RequestPerDay")
    new, second = services.key_rotate(key=key)
    services.key_switch_plan(key=new, plan_name="20RequestPerDay")
    services.key_revoke(key=new)
    due, third = services.key_create(owner=user, plan_name="30RequestPerDay", expires_in_days=7)
    ApiKey.objects.filter(pk=due.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    services.keys_expire_due()
    assert actions(subject=user, action__startswith="key.") == [
        "key.created",
        "key.rotated",
        "key.switched",
        "key.revoked",
        "key.created",
        "key.expired",
    ]
    switched = AuditEvent.objects.get(action="key.switched")
    assert switched.target == new.public_prefix and switched.detail == "10RequestPerDay → 20RequestPerDay"
    dump = str(list(AuditEvent.objects.values()))
    assert all(secret not in dump for secret in (first, second, third))
    assert all(secret.split(".")[1] not in dump for secret in (first, second, third))


def test_a_change_through_a_page_records_who_and_where(alice_client, user, plans):
    alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"}, REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.get(action="key.created")
    assert event.actor == user and event.ip == "203.0.113.9"


def test_plan_changes_and_staff_actions_are_recorded(staff_client, user, plans):
    form = {"name": "Gold", "requests_per_day": 100, "order": 5, "is_active": "on", "period": "day", "time_zone": "UTC"}
    staff_client.post("/admin/keys/plan/add/", form)
    gold = Plan.objects.get(name="Gold")
    form = {**form, "requests_per_day": 200}
    staff_client.post(f"/admin/keys/plan/{gold.pk}/change/", form)
    staff_client.post(f"/admin/keys/plan/{gold.pk}/change/", {**form, "is_active": ""})
    assert actions(target="Gold", action__startswith="plan.") == ["plan.created", "plan.edited", "plan.retired"]
    assert "admin.added" in actions(actor_email="staff@example.com")
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    staff_client.post("/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    revoked = AuditEvent.objects.get(action="key.revoked")
    assert revoked.actor_email == "staff@example.com" and revoked.subject == user


def test_api_gateway_syncs_are_recorded(aws, staff_client):
    staff_client.post("/admin/keys/plan/", {"action": "sync_to_api_gateway", "_selected_action": [1]})
    assert AuditEvent.objects.filter(action="plans.synced", actor_email="staff@example.com").exists()


def test_users_see_only_their_own_activity(client, user, other_user, plans):
    services.key_create(owner=user, plan_name="10RequestPerDay")
    bobs, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay")
    client.force_login(user)
    page = client.get("/account/activity/").content.decode()
    assert "created in plan 10RequestPerDay" in page and bobs.public_prefix not in page
    assert client.get("/account/").status_code == 200 and "Account activity" in client.get("/account/").content.decode()


def test_staff_search_the_trail_but_cannot_change_or_delete_it(staff_client, user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    event = AuditEvent.objects.get(action="key.created")
    listing = staff_client.get("/admin/accounts/auditevent/", {"q": key.public_prefix}).content.decode()
    assert key.public_prefix in listing and "key.created" in listing
    assert staff_client.get(f"/admin/accounts/auditevent/{event.pk}/change/").status_code == 200  # view only
    assert staff_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff_client.get("/admin/accounts/auditevent/add/").status_code == 403
    event.detail = "tampered"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).detail == "10RequestPerDay"


def test_old_admin_address_of_the_trail_leads_to_its_new_one(staff_client, user, plans):
    services.key_create(owner=user, plan_name="10RequestPerDay")
    event = AuditEvent.objects.get(action="key.created")
    moved = staff_client.get("/admin/keys/auditevent/", {"q": "key"})
    assert moved.status_code == 301 and moved["location"] == "/admin/accounts/auditevent/?q=key"
    change = staff_client.get(f"/admin/keys/auditevent/{event.pk}/change/", follow=True)
    assert change.redirect_chain[0][0] == f"/admin/accounts/auditevent/{event.pk}/change/"
    assert change.status_code == 200 and "key.created" in change.content.decode()


def test_a_failing_trail_never_undoes_the_key(user, plans, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("the trail is down")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay")
    assert ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).exists() and plaintext
    assert "could not record the audit event key.created" in caplog.text


def test_the_activity_page_reads_as_sentences_in_both_languages_never_codes(client, user, plans):
    from accounts.activity import _sentences

    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_switch_plan(key=key, plan_name="20RequestPerDay")
    services.key_revoke(key=key)
    client.force_login(user)
    english = client.get("/account/activity/").content.decode()
    assert f"Key {key.public_prefix} moved to another plan: 10RequestPerDay → 20RequestPerDay." in english
    assert f"Key {key.public_prefix} revoked (plan 20RequestPerDay)." in english
    thai = client.get("/account/activity/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert f"ย้ายคีย์ {key.public_prefix} ไปแพ็กเกจอื่น: 10RequestPerDay → 20RequestPerDay" in thai
    for page in (english, thai):
        shown = page.split("<tbody>", 1)[1]
        assert not any(f">{code}" in shown or f"{code}<" in shown for code in _sentences()), "a raw action code"
