"""Plans carry a name for people on their cards, while the seed's API keeps the seed's names."""

import pytest
from django.test import Client

from keys.models import Plan

pytestmark = pytest.mark.django_db


def test_the_seed_plans_are_named_for_people_and_get_plan_keeps_the_seed_names(alice_client):
    visitor = Client()
    named = dict(Plan.objects.values_list("name", "display_name"))
    assert named.items() >= {
        ("10RequestPerDay", "Starter"),
        ("20RequestPerDay", "Standard"),
        ("30RequestPerDay", "Plus"),
    }
    names = [plan["name"] for plan in visitor.get("/plan").json()]
    assert names[:3] == ["10RequestPerDay", "20RequestPerDay", "30RequestPerDay"]
    assert "Starter" not in visitor.get("/plan").content.decode()
    for page in (visitor.get("/").content.decode(), alice_client.get("/keys/").content.decode()):
        assert '<h3 class="plan-title">Starter: 10 requests a day</h3>' in page
        assert "<code>10RequestPerDay</code>" in page
    thai = alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert '<h3 class="plan-title">เริ่มต้น: 10 คำขอต่อวัน</h3>' in thai


def test_a_plan_without_a_display_name_shows_its_name(alice_client):
    Plan.objects.create(name="Bare", requests_per_day=5, order=99)
    page = alice_client.get("/keys/").content.decode()
    assert "<h3>Bare</h3>" in page


def test_the_admin_plan_page_lists_the_models_it_grants(admin_client, two_upstream_catalogue):
    granting = Plan.objects.get(name="10RequestPerDay")
    page = admin_client.get(f"/admin/keys/plan/{granting.pk}/change/").content.decode()
    assert "models it grants" in page.lower() and ">first<" in page.replace('<div class="readonly">', ">")
    everything = Plan.objects.get(name="20RequestPerDay")
    page = admin_client.get(f"/admin/keys/plan/{everything.pk}/change/").content.decode()
    assert "Every model in the catalogue" in page
