from decimal import Decimal

import pytest

from gateway.models import CatalogModel, Upstream
from keys.metering import utc_today
from keys.models import ApiKey, DailyUsage, Plan

pytestmark = pytest.mark.django_db

# What the plan form posts, besides the fields a test changes.
PLAN_FORM = {"description": "", "is_active": "on", "order": 1, "period": "day", "time_zone": "UTC", "budget": ""}


def test_plans_list_shows_active_key_counts(staff_client, user, other_user, key_factory):
    key_factory(user, "10RequestPerDay")
    revoked, _ = key_factory(other_user, "10RequestPerDay")
    revoked.revoked_at = revoked.created_at
    revoked.save()
    page = staff_client.get("/admin/keys/plan/").content.decode()
    row = page[page.index("10RequestPerDay") :]
    assert '<td class="field-active_keys">1</td>' in row


def test_staff_edit_a_plans_limit(staff_client, plans):
    plan = plans["10RequestPerDay"]
    response = staff_client.post(
        f"/admin/keys/plan/{plan.pk}/change/", {**PLAN_FORM, "name": plan.name, "requests_per_day": 12}
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.requests_per_day == 12


def test_staff_set_a_plans_period_time_zone_and_budget(staff_client, plans):
    plan = plans["10RequestPerDay"]
    form = {"name": plan.name, "requests_per_day": 70, "period": "week", "time_zone": "Asia/Bangkok"}
    edit = staff_client.get(f"/admin/keys/plan/{plan.pk}/change/").content.decode()
    assert all(f'name="{field}"' in edit for field in ("period", "time_zone", "budget"))
    response = staff_client.post(f"/admin/keys/plan/{plan.pk}/change/", {**PLAN_FORM, **form, "budget": "12.5"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.period, plan.time_zone, plan.budget) == ("week", "Asia/Bangkok", Decimal("12.5"))
    listing = staff_client.get("/admin/keys/plan/").content.decode()
    start = listing.index(f'<th class="field-name"><a href="/admin/keys/plan/{plan.pk}/change/">')
    row = listing[start : listing.index("</tr>", start)]
    assert '<td class="field-period">week</td>' in row and "Asia/Bangkok" in row
    assert '<td class="field-budget_shown">12.50 USD</td>' in row


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("time_zone", "Mars/Olympus_Mons", "is not a time zone Tollgate knows"),
        ("budget", "0", "A budget must be more than zero"),
        ("budget", "-3", "A budget must be more than zero"),
        ("period", "fortnight", "Select a valid choice"),
    ],
)
def test_a_bad_period_zone_or_budget_is_shown_on_the_form(staff_client, plans, field, value, error):
    plan = plans["10RequestPerDay"]
    response = staff_client.post(
        f"/admin/keys/plan/{plan.pk}/change/", {**PLAN_FORM, "name": plan.name, "requests_per_day": 10, field: value}
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert Plan.objects.get(pk=plan.pk).budget is None


def test_with_api_gateway_a_budget_is_refused_on_the_form_not_a_500(aws, staff_client, plans):
    plan = plans["10RequestPerDay"]
    response = staff_client.post(
        f"/admin/keys/plan/{plan.pk}/change/", {**PLAN_FORM, "name": plan.name, "requests_per_day": 10, "budget": "5"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errorlist' in page and "with KEYS_BACKEND=aws, API Gateway admits requests" in page
    assert Plan.objects.get(pk=plan.pk).budget is None
    response = staff_client.post(
        f"/admin/keys/plan/{plan.pk}/change/",
        {**PLAN_FORM, "name": plan.name, "requests_per_day": 10, "time_zone": "Asia/Bangkok"},
    )
    assert response.status_code == 200 and "API Gateway counts periods in UTC" in response.content.decode()
    assert Plan.objects.get(pk=plan.pk).time_zone == "UTC"


def test_the_catalogue_admin_shows_and_edits_prices(staff_client, plans):
    upstream = Upstream.objects.create(name="main", base_url="https://llm.example.com/v1")
    model = CatalogModel.objects.create(name="gpt-x", price_input_per_million=Decimal("2.5"))
    model.upstreams.add(upstream)
    listing = staff_client.get("/admin/gateway/catalogmodel/").content.decode()
    assert "column-prices" in listing
    assert "in: 2.50 USD per million tokens<br>out: free per million tokens<br>a call: free" in listing
    edit = staff_client.get(f"/admin/gateway/catalogmodel/{model.pk}/change/").content.decode()
    assert all(f'name="{f}"' in edit for f in ("price_input_per_million", "price_per_request", "max_output_tokens"))
    form = {
        "name": "gpt-x",
        "upstream_model": "",
        "upstreams": [upstream.pk],
        "kind": "",
        "enabled": "on",
        "price_input_per_million": "3",
        "price_output_per_million": "15.25",
        "price_per_request": "0.001",
        "max_output_tokens": "2048",
    }
    response = staff_client.post(f"/admin/gateway/catalogmodel/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    model.refresh_from_db()
    assert (model.price_input_per_million, model.price_output_per_million, model.price_per_request) == (
        Decimal("3"),
        Decimal("15.25"),
        Decimal("0.001"),
    )
    assert model.max_output_tokens == 2048
    refused = staff_client.post(f"/admin/gateway/catalogmodel/{model.pk}/change/", {**form, "price_per_request": "-1"})
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()


def test_keys_search_filter_and_no_secret(staff_client, user, key_factory):
    key, plaintext = key_factory(user)
    DailyUsage.objects.create(key=key, day=utc_today(), requests=4, prompt_tokens=10, completion_tokens=20)
    listing = staff_client.get("/admin/keys/apikey/", {"q": "alice@"}).content.decode()
    assert key.public_prefix in listing
    assert key.public_prefix not in staff_client.get("/admin/keys/apikey/", {"q": "nobody"}).content.decode()
    assert key.public_prefix not in staff_client.get("/admin/keys/apikey/", {"status": "revoked"}).content.decode()
    detail = staff_client.get(f"/admin/keys/apikey/{key.pk}/change/").content.decode()
    assert plaintext not in detail and key.hashed_secret not in detail
    assert "recent usage" in detail.lower() and ">4<" in detail.replace(" ", "").replace("\n", "")
    assert "0 of 10" in detail  # this period's count, as the quota store has it
    assert "0.00 USD; resets" in detail  # nothing spent, no budget
    assert staff_client.get("/admin/keys/apikey/add/").status_code == 403


def test_revoke_action(staff_client, user, key_factory):
    key, _ = key_factory(user)
    response = staff_client.post(
        "/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )
    assert "Revoked 1 key" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
