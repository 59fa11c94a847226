"""Template filters for the keys pages."""

from collections.abc import Mapping

from django import template

register = template.Library()


@register.filter
def for_plan(models: Mapping[int, str] | None, plan_id: int) -> str:
    """The model a plan's snippets name, from the `plan_snippet_models` the site's context gives; "" if none."""
    return (models or {}).get(plan_id, "")
