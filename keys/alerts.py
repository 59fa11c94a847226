"""Usage alerts: mail a key's owner when it passes 80% and 100% of its day, once each, off the request path."""

import datetime
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from django.core.mail import send_mail
from django.db import IntegrityError, close_old_connections, transaction

from keys.models import AccountSettings, ApiKey, Plan, UsageAlert

logger = logging.getLogger(__name__)
THRESHOLDS = (80, 100)
# Mail has a thread of its own: a slow mail server must never hold up the quota's database thread.
_mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tollgate-mail")


def thresholds_crossed(before: int, after: int, limit: int | None) -> list[int]:
    """The thresholds (in percent of `limit`) that going from `before` to `after` passes."""
    if not limit or after <= before:
        return []
    return [t for t in THRESHOLDS if before * 100 < t * limit <= after * 100]


def alert_later(*, key_id: int, day: datetime.date, kind: str, percent: int) -> Future:
    return _mailer.submit(alert_send, key_id=key_id, day=day, kind=kind, percent=percent)


def alerts_wait() -> None:
    """Block until every alert asked for so far has been handled (tests, shutdown)."""
    _mailer.submit(lambda: None).result()


def alert_send(*, key_id: int, day: datetime.date, kind: str, percent: int) -> bool:
    """Record the alert and mail it, unless it went already or the owner opted out. True if mailed."""
    close_old_connections()
    try:
        with transaction.atomic():
            UsageAlert.objects.create(key_id=key_id, day=day, kind=kind, percent=percent)
    except IntegrityError:
        return False  # sent already, by this process or another
    key = ApiKey.objects.select_related("owner", "plan").filter(pk=key_id).first()
    if key is None or not key.owner.email:
        return False
    preferences = AccountSettings.objects.filter(user=key.owner).first()
    if preferences is not None and not preferences.usage_alerts:
        return False
    plan: Plan = key.plan
    limit = plan.requests_per_day if kind == "requests" else plan.tokens_per_day
    unit = "requests" if kind == "requests" else "tokens"
    reached = "has used all of" if percent >= 100 else f"has used {percent}% of"
    subject = f"Tollgate: key {key.public_prefix} {reached} today's {unit}"
    body = (
        f"Your API key {key.public_prefix} ({plan.name}) {reached} its {limit} {unit} for {day.isoformat()} (UTC).\n"
        + ("Further requests get 429 Limit Exceeded until 00:00 UTC.\n" if percent >= 100 else "")
        + "\nSee your usage at /usage/. You can turn these mails off on your account page (/account/).\n"
    )
    try:
        send_mail(subject, body, None, [key.owner.email])
    except Exception:
        logger.exception("could not send a usage alert for key %s", key.public_prefix)
        return False
    return True
