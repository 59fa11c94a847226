"""Usage alerts: mail a key's owner when it passes 80% and 100% of its day, once each, off the request path."""

import datetime
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _

from accounts.selectors import account_settings_get
from keys.models import ApiKey, Plan
from usage.models import UsageAlert

logger = logging.getLogger(__name__)
# Mail has a thread of its own: a slow mail server must never hold up the quota's database thread.
_mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tollgate-mail")


def alert_on_threshold(*, key_id: int, day: datetime.date, kind: str, percent: int, **_) -> None:
    alert_later(key_id=key_id, day=day, kind=kind, percent=percent)


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
    preferences = account_settings_get(user=key.owner)
    if not preferences.usage_alerts:
        return False
    with translation.override(preferences.language or settings.LANGUAGE_CODE):
        subject, body = _alert_text(key=key, day=day, kind=kind, percent=percent)
    try:
        send_mail(subject, body, None, [key.owner.email])
    except Exception:
        logger.exception("could not send a usage alert for key %s", key.public_prefix)
        return False
    return True


def _alert_text(*, key: ApiKey, day: datetime.date, kind: str, percent: int) -> tuple[str, str]:
    """The mail's subject and body, in whatever language is active."""
    plan: Plan = key.plan
    values = {
        "key": key.public_prefix,
        "plan": plan.name,
        "percent": percent,
        "limit": plan.requests_per_day if kind == "requests" else plan.tokens_per_day,
        "day": formats.date_format(day, "SHORT_DATE_FORMAT"),
    }
    if kind == "requests" and percent >= 100:
        subject = _("Tollgate: key %(key)s has used all of today's requests")
        reached = _("Your API key %(key)s (%(plan)s) has used all of its %(limit)s requests for %(day)s (UTC).")
    elif kind == "requests":
        subject = _("Tollgate: key %(key)s has used %(percent)s%% of today's requests")
        reached = _(
            "Your API key %(key)s (%(plan)s) has used %(percent)s%% of its %(limit)s requests for %(day)s (UTC)."
        )
    elif percent >= 100:
        subject = _("Tollgate: key %(key)s has used all of today's tokens")
        reached = _("Your API key %(key)s (%(plan)s) has used all of its %(limit)s tokens for %(day)s (UTC).")
    else:
        subject = _("Tollgate: key %(key)s has used %(percent)s%% of today's tokens")
        reached = _("Your API key %(key)s (%(plan)s) has used %(percent)s%% of its %(limit)s tokens for %(day)s (UTC).")
    lines = [reached % values]
    if percent >= 100:
        lines.append(_("Further requests get 429 Limit Exceeded until 00:00 UTC."))
    lines += ["", _("See your usage at /usage/. You can turn these mails off on your account page (/account/).")]
    return subject % values, "\n".join(lines) + "\n"
