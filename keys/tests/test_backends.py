"""One contract every key backend passes, run against the local backend and AWS (moto)."""

import pytest

from keys import services
from keys.backends import get_backend
from keys.backends.local import LocalKeyBackend
from keys.crypto import key_hash
from keys.exceptions import KeyAlreadyExists
from keys.models import ApiKey


class KeyBackendContract:
    """Subclasses provide the `store` fixture: the set of key ids that currently admit requests."""

    def test_create_records_only_a_hash_and_the_backend_id(self, store, user):
        key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay")
        assert key.hashed_secret == key_hash(plaintext)
        assert store() == {key.backend_id or key.prefix}

    def test_duplicate_is_refused_and_makes_nothing(self, store, user):
        services.key_create(owner=user, plan_name="10RequestPerDay")
        with pytest.raises(KeyAlreadyExists):
            services.key_create(owner=user, plan_name="10RequestPerDay")
        assert len(store()) == 1

    def test_revoke_stops_the_key(self, store, user):
        key, _ = services.key_create(owner=user, plan_name="20RequestPerDay")
        services.key_revoke(key=key)
        assert store() == set()

    def test_rotate_replaces_the_key(self, store, user):
        old, _ = services.key_create(owner=user, plan_name="20RequestPerDay")
        new, _ = services.key_rotate(key=old)
        assert store() == {new.backend_id or new.prefix}

    def test_a_failed_local_record_leaves_nothing_anywhere(self, store, user, monkeypatch):
        def broken(**kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(ApiKey.objects, "create", broken)
        with pytest.raises(RuntimeError):
            services.key_create(owner=user, plan_name="10RequestPerDay")
        monkeypatch.undo()
        assert store() == set() and not ApiKey.objects.exists()

    def test_get_backend_resolves_the_setting_when_called(self, store, settings):
        assert type(get_backend()).__name__ == self.backend_class
        chosen = settings.KEYS_BACKEND
        settings.KEYS_BACKEND = "keys.tests.test_backends.OtherBackend"
        assert type(get_backend()) is OtherBackend  # no module-level copy of the setting
        settings.KEYS_BACKEND = chosen
        assert type(get_backend()).__name__ == self.backend_class


class TestLocalBackend(KeyBackendContract):
    backend_class = "LocalKeyBackend"

    @pytest.fixture
    def store(self, plans, settings):
        settings.KEYS_BACKEND = "local"
        return lambda: set(ApiKey.objects.filter(revoked_at__isnull=True).values_list("prefix", flat=True))


class TestAwsBackend(KeyBackendContract):
    backend_class = "AwsKeyBackend"

    @pytest.fixture
    def store(self, aws):
        def enabled_keys() -> set[str]:
            keys = aws.client.get_api_keys()["items"]
            attached = {
                item["id"]
                for plan in aws.client.get_usage_plans()["items"]
                for item in aws.client.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
            }
            return {k["id"] for k in keys if k["enabled"] and k["id"] in attached}

        return enabled_keys


def test_unknown_backend_is_a_clear_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.KEYS_BACKEND = "nowhere.Backend"
    with pytest.raises(ImproperlyConfigured, match="KEYS_BACKEND='nowhere.Backend'"):
        get_backend()


def test_base_class_states_its_contract():
    from keys.backends.base import BaseKeyBackend

    base = BaseKeyBackend()
    with pytest.raises(NotImplementedError, match="must provide a create_key"):
        base.create_key(owner_email="a", plan=None, plaintext="x")
    with pytest.raises(NotImplementedError, match="must provide a delete_key"):
        base.delete_key(backend_id="x")
    with pytest.raises(NotImplementedError, match="must provide a revoke_key"):
        base.revoke_key(api_key=None)
    assert base.external_gateway_url() == "" and base.plans_sync() is None and base.plan_change_notice() == ""


class OtherBackend(LocalKeyBackend):
    """A backend named by dotted path, to show the setting is read at call time."""
