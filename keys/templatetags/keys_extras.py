"""Template filters for the keys pages."""

from collections.abc import Mapping

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def for_plan(models: Mapping[int, str] | None, plan_id: int) -> str:
    """The model a plan's snippets name, from the `plan_snippet_models` the site's context gives; "" if none."""
    return (models or {}).get(plan_id, "")


@register.filter
def translate_plan(text: str) -> str:
    """A seeded plan's words (name for people, description) in the page's language; staff's own words as typed."""
    return gettext(text) if text else ""
