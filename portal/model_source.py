"""What answers a model call on this server, in the words pages and `make run`'s banner use.

The demo model answers only when nothing else would: no LLM_BASE_URL and no model in the catalogue.
"""

from collections.abc import Iterable

from gateway.app_settings import app_settings
from gateway.calls import default_model, plan_models
from gateway.models import CatalogModel


def catalogue_size() -> int:
    return CatalogModel.objects.filter(enabled=True).count()


def demo_answers() -> bool:
    """Whether the built-in demo model is what answers: no LLM_BASE_URL, and the catalogue holds no model."""
    return not app_settings.LLM_BASE_URL and not catalogue_size()


def snippet_models(plan_ids: Iterable[int]) -> dict[int, str]:
    """For each plan, a model its keys may chat with: the first chat model it grants, or the default model."""
    plan_ids = list(plan_ids)
    granted = plan_models(plan_ids, kind="chat")
    fallback = default_model() or ""
    return {plan_id: (granted.get(plan_id) or [fallback])[0] for plan_id in plan_ids}


def banner() -> str:
    """One line for `make run`: which models answer."""
    models = catalogue_size()
    if models:
        return f"the catalogue's {models} model(s) answer; staff edit them at /admin/gateway/"
    if app_settings.LLM_BASE_URL:
        return f"models from LLM_BASE_URL={app_settings.LLM_BASE_URL}"
    return "no LLM_BASE_URL and no catalogue: the built-in demo model tollgate-demo answers with a fixed text"
