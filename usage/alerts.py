"""Usage alerts: mail a key's owner when it passes 80% and 100% of its plan's requests, tokens or budget
for the period, once each a period, off the request path."""

import datetime
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from accounts.selectors import account_settings_get
from keys.metering import counts_sync
from keys.models import ApiKey, Plan
from keys.periods import period_bounds, zone
from keys.templatetags.keys_extras import moment_text, money_with_currency, per_period
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


# Possessives of the period running now, for subjects ("today's requests", "this week's budget").
PERIOD_OF = {
    "day": pgettext_lazy("of the period running now", "today's"),
    "week": pgettext_lazy("of the period running now", "this week's"),
    "month": pgettext_lazy("of the period running now", "this month's"),
}


def period_reset(plan: Plan, start: datetime.date) -> datetime.datetime:
    """When the plan's period that began on `start` ends (the alert may be mailed after it did)."""
    noon = datetime.datetime.combine(start, datetime.time(12), tzinfo=zone(plan.time_zone))
    return period_bounds(plan.period, plan.time_zone, noon)[1]


def _subject(kind: str, percent: int) -> str:
    if kind == "budget":
        if percent >= 100:
            return _("Tollgate: key %(key)s has spent all of %(period)s budget")
        return _("Tollgate: key %(key)s has spent %(percent)s%% of %(period)s budget")
    if kind == "tokens":
        if percent >= 100:
            return _("Tollgate: key %(key)s has used all of %(period)s tokens")
        return _("Tollgate: key %(key)s has used %(percent)s%% of %(period)s tokens")
    if percent >= 100:
        return _("Tollgate: key %(key)s has used all of %(period)s requests")
    return _("Tollgate: key %(key)s has used %(percent)s%% of %(period)s requests")


def _reached(kind: str, percent: int) -> str:
    if kind == "budget":
        if percent >= 100:
            return _("Your API key %(key)s (%(plan)s) has spent all of its budget of %(budget)s %(per)s.")
        return _("Your API key %(key)s (%(plan)s) has spent %(percent)s%% of its budget of %(budget)s %(per)s.")
    if kind == "tokens":
        if percent >= 100:
            return _("Your API key %(key)s (%(plan)s) has used all of its %(limit)s tokens %(per)s.")
        return _("Your API key %(key)s (%(plan)s) has used %(percent)s%% of its %(limit)s tokens %(per)s.")
    if percent >= 100:
        return _("Your API key %(key)s (%(plan)s) has used all of its %(limit)s requests %(per)s.")
    return _("Your API key %(key)s (%(plan)s) has used %(percent)s%% of its %(limit)s requests %(per)s.")


def _alert_text(*, key: ApiKey, day: datetime.date, kind: str, percent: int) -> tuple[str, str]:
    """The mail's subject and body, in whatever language is active. `day` is the first day of the
    plan's period the threshold was passed in."""
    plan: Plan = key.plan
    limits = {"requests": plan.requests_per_day, "tokens": plan.tokens_per_day}
    values = {
        "key": key.public_prefix,
        "plan": plan.name,
        "percent": percent,
        "limit": limits.get(kind),
        "budget": money_with_currency(plan.budget),
        "period": PERIOD_OF.get(plan.period, plan.period),
        "per": per_period(plan.period),
        "reset": moment_text(period_reset(plan, day)),
    }
    lines = [_reached(kind, percent) % values]
    if kind == "budget":
        counts = counts_sync(owner_id=key.holder_id, plan=plan)
        if counts.start == day:
            lines.append(_("Spent so far: %(spent)s.") % {"spent": money_with_currency(counts.nanos)})
    if percent >= 100:
        lines.append(_("Further requests get 429 Limit Exceeded until %(reset)s.") % values)
    else:
        lines.append(_("The count starts again at %(reset)s.") % values)
    lines += ["", _("See your usage at /usage/. You can turn these mails off on your account page (/account/).")]
    return _subject(kind, percent) % values, "\n".join(lines) + "\n"
