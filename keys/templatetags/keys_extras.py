"""Template filters for the keys pages: plan names, periods, budgets and reset moments."""

import datetime
from collections.abc import Mapping
from decimal import Decimal

from django import template
from django.utils.translation import gettext, pgettext_lazy

from keys.app_settings import app_settings
from keys.money import money_text, to_nanos
from keys.periods import moment_text, period_current

register = template.Library()

# Said after a count: "10 requests a day", "500 USD a month".
PER_PERIOD = {
    "day": pgettext_lazy("per period", "a day"),
    "week": pgettext_lazy("per period", "a week"),
    "month": pgettext_lazy("per period", "a month"),
}
# Said of the period running now: "3 of 10 requests left today".
THIS_PERIOD = {
    "day": pgettext_lazy("the period running now", "today"),
    "week": pgettext_lazy("the period running now", "this week"),
    "month": pgettext_lazy("the period running now", "this month"),
}


@register.filter
def for_plan(models: Mapping[int, str] | None, plan_id: int) -> str:
    """The model a plan's snippets name, from the `plan_snippet_models` the site's context gives; "" if none."""
    return (models or {}).get(plan_id, "")


@register.filter
def translate_plan(text: str) -> str:
    """A seeded plan's words (name for people, description) in the page's language; staff's own words as typed."""
    return gettext(text) if text else ""


@register.filter
def per_period(period: str) -> str:
    """'a day', 'a week' or 'a month', for a plan's `period`."""
    return str(PER_PERIOD.get(period, period))


@register.filter
def this_period(period: str) -> str:
    """'today', 'this week' or 'this month', for a plan's `period`."""
    return str(THIS_PERIOD.get(period, period))


@register.filter
def plan_resets_at(plan) -> datetime.datetime:
    """When the plan's current period ends: an aware datetime in the plan's time zone."""
    return period_current(plan.period, plan.time_zone)[1]


@register.filter
def moment(value: datetime.datetime | None) -> str:
    return moment_text(value) if value is not None else ""


def money_with_currency(amount: Decimal | int | None) -> str:
    """An amount (a Decimal, or whole nanos) as '12.50 USD'; '' for None."""
    if amount is None:
        return ""
    nanos = amount if isinstance(amount, int) else to_nanos(amount)
    return f"{money_text(nanos)} {app_settings.TOLLGATE_CURRENCY}"


@register.filter
def money(amount: Decimal | int | None) -> str:
    return money_with_currency(amount)


@register.simple_tag
def currency() -> str:
    """TOLLGATE_CURRENCY, for column headings."""
    return app_settings.TOLLGATE_CURRENCY


@register.filter
def granted_for(models: Mapping[int, list[str]] | None, plan_id: int) -> list[str]:
    """The models a plan grants, from the page's `plan_models`; [] if none is listed."""
    return (models or {}).get(plan_id, [])
