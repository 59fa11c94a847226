"""The models that left keys keep their rows: a database filled at the old schema, upgraded, finds every one."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import AccountSettings, AuditEvent
from usage.models import UsageAlert

BEFORE_THE_MOVE = [("keys", "0008_verbose_names"), ("accounts", None), ("usage", None)]


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_found_through_the_new_apps():
    executor = MigrationExecutor(connection)
    old = executor.migrate(BEFORE_THE_MOVE).apps  # the models as the database has them now
    try:
        user = old.get_model("auth", "User").objects.create(username="mover@example.com", email="mover@example.com")
        plan = old.get_model("keys", "Plan").objects.create(name="Moving", requests_per_day=5)
        key = old.get_model("keys", "ApiKey").objects.create(
            owner=user, plan=plan, prefix="tgmove01", hashed_secret="0" * 64
        )
        day = datetime.date(2026, 1, 2)
        old.get_model("keys", "UsageAlert").objects.create(key=key, day=day, kind="tokens", percent=80)
        old.get_model("keys", "AccountSettings").objects.create(user=user, usage_alerts=False, language="th")
        old.get_model("keys", "AuditEvent").objects.create(
            actor=user, actor_email=user.email, subject=user, action="key.created", target="tg-move01", detail="kept"
        )
        content_types = old.get_model("contenttypes", "ContentType").objects
        trail_type = content_types.get_or_create(app_label="keys", model="auditevent")[0]
        permission = old.get_model("auth", "Permission").objects.create(
            content_type=trail_type, codename="read_trail_for_test", name="read the trail"
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    alert = UsageAlert.objects.get(key_id=key.pk)
    assert (alert.day, alert.kind, alert.percent) == (day, "tokens", 80)
    settings = AccountSettings.objects.get(user_id=user.pk)
    assert (settings.usage_alerts, settings.language) == (False, "th")
    event = AuditEvent.objects.get(target="tg-move01")
    assert (event.action, event.actor_id, event.subject_id, event.detail) == ("key.created", user.pk, user.pk, "kept")
    # The staff permissions on the trail moved with it.
    from django.contrib.auth.models import Permission

    moved = Permission.objects.get(pk=permission.pk)
    assert (moved.content_type.app_label, moved.content_type.model) == ("accounts", "auditevent")
