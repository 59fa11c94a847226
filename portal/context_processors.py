"""Template context shared by every page; values the lower apps' pages need from the gateway arrive here."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from gateway.calls import default_model
from keys.models import Plan
from portal.model_source import demo_answers, snippet_models


def site(request: HttpRequest) -> dict:
    # Lazy: only pages that show them read the catalogue.
    return {
        "demo_model": SimpleLazyObject(demo_answers),
        "default_model": default_model(),
        "plan_snippet_models": SimpleLazyObject(lambda: snippet_models(Plan.objects.values_list("pk", flat=True))),
    }
