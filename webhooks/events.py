"""Which signals become which events, and what each event's data says (never a key's secret part)."""

import datetime
import time

from django.db import transaction

from gateway.signals import upstream_state_changed
from keys.models import ApiKey
from keys.signals import key_created, key_expiring, key_revoked, usage_threshold_crossed
from requestlog.signals import daily_upkeep
from webhooks.delivery import event_later


def _key_data(key: ApiKey) -> dict:
    return {
        "key": key.public_prefix,
        "key_id": key.pk,
        "label": key.label,
        "plan": key.plan.name,
        "user": key.owner.email,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def _about_key(event: str, key_id: int, subject: str, extra: dict | None = None):
    def build():
        key = ApiKey.objects.select_related("plan", "owner").filter(pk=key_id).first()
        if key is None:
            return None
        return event, subject, {**_key_data(key), **(extra or {})}, key.owner_id

    return build


def on_key_created(sender, key: ApiKey, **kwargs) -> None:
    transaction.on_commit(lambda: event_later(_about_key("key.created", key.pk, f"key:{key.pk}")))


def on_key_revoked(sender, key: ApiKey, because: str = "revoked", **kwargs) -> None:
    build = _about_key("key.revoked", key.pk, f"key:{key.pk}", {"reason": because})
    transaction.on_commit(lambda: event_later(build))


def on_key_expiring(sender, key: ApiKey, **kwargs) -> None:
    subject = f"key:{key.pk}:expires:{key.expires_at.isoformat() if key.expires_at else ''}"
    event_later(_about_key("key.expiring", key.pk, subject))


def on_threshold(sender, key_id: int, day: datetime.date, kind: str, percent: int, **kwargs) -> None:
    """requests and tokens: quota.80 / quota.100; budget: budget.80 / budget.100 (once a period)."""
    event = f"{'budget' if kind == 'budget' else 'quota'}.{percent}"
    extra = {"kind": kind, "percent": percent, "period_start": day.isoformat()}
    event_later(_about_key(event, key_id, f"{kind}:{key_id}:{day.isoformat()}", extra))


def on_upstream(sender, upstream: str, state: str, reason: str = "", **kwargs) -> None:
    # Each process sees its own circuit open: one post a minute per upstream and state, whoever sees it first.
    subject = f"upstream:{upstream}:{state}:{int(time.time() // 60)}"
    data = {"upstream": upstream, "reason": reason}
    event_later(lambda: (f"upstream.{state}", subject, data, None))


def on_daily_upkeep(sender, day, **kwargs) -> None:
    """Once a day in one process: announce the keys that expire within a week (key.expiring), so no
    cron job is needed; `manage.py expire_keys` still does it too, and each is posted once."""
    from keys.services import keys_expiring_announce

    keys_expiring_announce()


def connect() -> None:
    key_created.connect(on_key_created, dispatch_uid="webhooks.key_created")
    key_revoked.connect(on_key_revoked, dispatch_uid="webhooks.key_revoked")
    key_expiring.connect(on_key_expiring, dispatch_uid="webhooks.key_expiring")
    daily_upkeep.connect(on_daily_upkeep, dispatch_uid="webhooks.daily_upkeep")
    usage_threshold_crossed.connect(on_threshold, dispatch_uid="webhooks.threshold")
    upstream_state_changed.connect(on_upstream, dispatch_uid="webhooks.upstream")
