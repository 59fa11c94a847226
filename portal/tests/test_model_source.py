"""Pages name a model a key may use, and say the demo model answers only when it does."""

import re

import pytest

from portal.model_source import banner, demo_answers

pytestmark = pytest.mark.django_db

DEMO_NOTICE = "built-in <strong>demo model</strong>"


def snippet_models(page: str) -> set[str]:
    return set(re.findall(r'"model": "([^"]+)"', page)) | set(re.findall(r'model="([^"]+)"', page))


def test_without_anything_configured_the_demo_model_answers_and_pages_say_so(alice_client, plans):
    assert demo_answers()
    assert "demo model tollgate-demo answers" in banner()
    page = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"}).content.decode()
    assert snippet_models(page) == {"tollgate-demo"}
    dashboard = alice_client.get("/").content.decode()
    assert DEMO_NOTICE in dashboard
    assert snippet_models(dashboard) == {"tollgate-demo"}
    assert "(demo: a fixed text, not a real model)" in alice_client.get("/chat/").content.decode()


def test_with_a_catalogue_snippets_name_the_plans_first_model_and_nobody_mentions_the_demo(
    alice_client, plans, two_upstream_catalogue
):
    assert not demo_answers()
    assert "catalogue's 2 model(s) answer" in banner()
    # 10RequestPerDay grants only 'first'; a plan that grants nothing in particular may use every model.
    page = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"}).content.decode()
    assert snippet_models(page) == {"first"}
    page = alice_client.post("/keys/generate", {"plan_name": "30RequestPerDay"}).content.decode()
    assert snippet_models(page) == {"first"}  # sorted: 'first' before 'second'
    dashboard = alice_client.get("/").content.decode()
    assert DEMO_NOTICE not in dashboard and "tollgate-demo" not in dashboard
    chat = alice_client.get("/chat/").content.decode()
    assert "demo" not in chat.lower()


def test_with_llm_base_url_the_snippets_name_llm_model(alice_client, plans, settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_MODEL = "house-model"
    assert not demo_answers()
    assert "LLM_BASE_URL=http://127.0.0.1:9/v1" in banner()
    page = alice_client.post("/keys/generate", {"plan_name": "20RequestPerDay"}).content.decode()
    assert snippet_models(page) == {"house-model"}
    assert DEMO_NOTICE not in alice_client.get("/").content.decode()
