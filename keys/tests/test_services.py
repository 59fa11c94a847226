import pytest

from keys import services
from keys.backends.local import LocalKeyBackend
from keys.crypto import key_hash
from keys.exceptions import KeyAlreadyExists, KeyBackendError, KeyRevoked, PlanNotFound
from keys.models import ApiKey


class ExplodingBackend(LocalKeyBackend):
    """Creates remotely, then the local record fails: the remote key must be deleted."""

    created: list[str] = []
    deleted: list[str] = []

    def create_key(self, *, owner_email, plan, plaintext):
        self.created.append(plaintext)
        return f"remote-{len(self.created)}"

    def delete_key(self, *, backend_id):
        self.deleted.append(backend_id)


class FailingBackend(LocalKeyBackend):
    def create_key(self, *, owner_email, plan, plaintext):
        raise KeyBackendError("The key store is down.")

    def revoke_key(self, *, api_key):
        raise KeyBackendError("The key store is down.")


def test_create_stores_only_a_hash(user, plans):
    key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay", label="laptop")
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.hashed_secret == key_hash(plaintext)
    assert plaintext not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert stored.label == "laptop" and stored.plan.name == "10RequestPerDay" and stored.is_active


def test_second_active_key_in_the_same_plan_is_refused(user, plans):
    services.key_create(owner=user, plan_name="10RequestPerDay")
    with pytest.raises(KeyAlreadyExists):
        services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_create(owner=user, plan_name="20RequestPerDay")  # another plan is fine
    assert ApiKey.objects.filter(owner=user).count() == 2


def test_unknown_and_inactive_plans_are_refused(user, plans):
    with pytest.raises(PlanNotFound):
        services.key_create(owner=user, plan_name="1000RequestPerDay")
    plans["30RequestPerDay"].is_active = False
    plans["30RequestPerDay"].save()
    with pytest.raises(PlanNotFound):
        services.key_create(owner=user, plan_name="30RequestPerDay")


def test_revoke_is_one_way_and_frees_the_plan(user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_revoke(key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    with pytest.raises(KeyRevoked):
        services.key_revoke(key=key)
    key.revoked_at = None
    with pytest.raises(Exception, match="cannot be reactivated"):
        key.save()
    services.key_create(owner=user, plan_name="10RequestPerDay")


def test_rotate_keeps_plan_and_label_and_retires_the_old_key(user, plans):
    old, old_plain = services.key_create(owner=user, plan_name="20RequestPerDay", label="ci")
    new, new_plain = services.key_rotate(key=old)
    old.refresh_from_db()
    assert old.revoked_at is not None and new.is_active
    assert (new.plan, new.label) == (old.plan, "ci")
    assert new_plain != old_plain and new.prefix != old.prefix
    with pytest.raises(KeyRevoked):
        services.key_rotate(key=old)


def test_failed_local_record_deletes_the_remote_key(user, plans, monkeypatch):
    backend = ExplodingBackend()
    ExplodingBackend.created, ExplodingBackend.deleted = [], []
    monkeypatch.setattr(services, "get_backend", lambda: backend)

    def broken_create(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ApiKey.objects, "create", broken_create)
    with pytest.raises(RuntimeError):
        services.key_create(owner=user, plan_name="10RequestPerDay")
    assert backend.deleted == ["remote-1"]
    assert not ApiKey.objects.exists()


def test_backend_failure_records_nothing(user, plans, settings):
    settings.KEYS_BACKEND = "keys.tests.test_services.FailingBackend"
    with pytest.raises(KeyBackendError):
        services.key_create(owner=user, plan_name="10RequestPerDay")
    assert not ApiKey.objects.exists()


def test_backend_refusing_to_revoke_leaves_the_key_active(user, plans, settings):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    settings.KEYS_BACKEND = "keys.tests.test_services.FailingBackend"
    with pytest.raises(KeyBackendError):
        services.key_revoke(key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_revoke_succeeds_when_the_quota_store_cannot_be_told(user, plans, settings, django_capture_on_commit_callbacks):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.key_revoke(key=key)
    assert callbacks  # the quota store's (which fails, logged) and the webhooks' ran, and none raised
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_retiring_a_plan_stops_new_keys_but_not_existing_ones(user, other_user, plans):
    from keys.metering.keycache import key_info_load

    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    plans["10RequestPerDay"].is_active = False
    plans["10RequestPerDay"].save()
    with pytest.raises(PlanNotFound):
        services.key_create(owner=other_user, plan_name="10RequestPerDay")
    assert not key_info_load(key_id=key.pk).revoked
