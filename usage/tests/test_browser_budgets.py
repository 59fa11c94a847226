"""In Chromium: a weekly plan in Bangkok with a budget, a priced model, spend on the keys page, the dashboard
and the usage page, and the budget's 429 once it is spent."""

import datetime
import re
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import expect

from conftest import browser_log_in
from gateway.models import CatalogModel, Upstream
from keys.models import DailyUsage
from keys.periods import period_bounds

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def weekly_budget(plans, upstream_server):
    """20RequestPerDay counted by the week in Bangkok with 1 USD to spend; the loopback model at 25 cents a call."""
    upstream_server.reset()
    plan = plans["20RequestPerDay"]
    plan.period, plan.time_zone, plan.budget = "week", "Asia/Bangkok", Decimal("1")
    plan.display_name = "Standard"  # as the seed migration names it; an earlier test may have flushed it
    plan.save()
    loop = Upstream.objects.create(name="loop", base_url=upstream_server.base_url)
    model = CatalogModel.objects.create(name="loopback-model", price_per_request=Decimal("0.25"))
    model.upstreams.set([loop])
    yield plan
    upstream_server.reset()


def call(live, plaintext: str) -> httpx.Response:
    return httpx.post(
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext},
        json={"model": "loopback-model", "messages": [{"role": "user", "content": "hi"}]},
    )


def reload_until(page, locator, text: str) -> None:
    """Spend is settled just after the answer, and usage written within a second: reload until it shows."""
    for _ in range(30):
        if text in locator.inner_text():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(locator).to_contain_text(text)


def test_plan_cards_key_rows_and_the_usage_page_show_period_budget_and_spend(page, live, user, weekly_budget):
    _, reset = period_bounds("week", "Asia/Bangkok")
    resets = f"{reset:%a} {reset.day} {reset:%b} 00:00 Asia/Bangkok"
    assert resets.startswith("Mon ")

    page.goto(live.url + "/")
    card = page.locator(".card.plan", has_text="20RequestPerDay")
    expect(card.locator(".plan-title")).to_have_text("Standard: 20 requests a week")
    expect(card).to_contain_text("20 requests a week")
    expect(card.locator(".plan-budget")).to_have_text("Budget: 1.00 USD a week")
    expect(card.locator(".plan-reset")).to_have_text(f"Resets {resets}")
    expect(page.locator(".card.plan", has_text="10RequestPerDay").locator(".plan-budget")).to_have_count(0)

    browser_log_in(page, live, user.email)
    page.goto(live.url + "/keys/")
    card = page.locator(".card.plan", has_text="20RequestPerDay")
    expect(card.locator(".plan-reset")).to_have_text(f"Resets {resets}")
    card.get_by_role("button", name="Generate Key").click()
    field = page.get_by_label("Your new API key")
    expect(field).to_be_visible()
    expect(page.locator(".newkey")).to_contain_text("20 requests a week.")
    plaintext = field.input_value()

    assert call(live, plaintext).status_code == 200
    page.goto(live.url + "/keys/")
    row = page.locator("tbody tr", has_text="20RequestPerDay")
    reload_until(page, row, "0.25 USD of 1.00 USD spent")
    expect(row.locator(".budget-left")).to_have_text("0.75 USD left")
    expect(row.locator(".key-reset")).to_have_text(f"resets {resets}")
    expect(row).to_contain_text("1 / 20")
    page.get_by_role("navigation").get_by_role("link", name="Chat").click()
    expect(page.locator("#remaining")).to_have_text("19 of 20 requests left this week")
    expect(page.locator("#key option").first).to_contain_text("20RequestPerDay")

    # An older day's spend, as the usage page keeps it (per UTC day).
    yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    key = user.api_keys.get()
    DailyUsage.objects.create(key=key, day=yesterday, model="loopback-model", requests=8, cost_nanos=2_000_000_000)
    page.get_by_role("navigation").get_by_role("link", name="Usage").click()
    total = page.locator(".spend-total")
    reload_until(page, total, "2.25 USD")
    chart = page.get_by_role("img", name="Spend a day (USD)")
    expect(chart).to_be_visible()
    expect(chart.locator("rect").last).to_have_attribute("data-label", "0.25")
    expect(chart.locator(f'rect[data-day="{yesterday.isoformat()}"]')).to_have_attribute("data-label", "2.00")
    assert float(chart.locator("rect").last.get_attribute("height")) > 0
    days = page.locator("table.usage-days tbody tr")
    expect(days.first.locator("td").last).to_have_text("0.25")
    expect(days.nth(1).locator("td").last).to_have_text("2.00")
    expect(page.locator("table.usage-rows tbody tr").first.locator("td").last).to_have_text("0.25")
    period = page.locator(".card.period")
    expect(period).to_contain_text("of 20 requests left this week")
    expect(period).to_contain_text("0.25 USD of 1.00 USD spent this week")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = open(download.value.path()).read().splitlines()
    assert lines[0].endswith(",refused,cost")
    assert re.search(
        rf"^{yesterday.isoformat()},{key.public_prefix},loopback-model,8,0,0,0,2\.00$", "\n".join(lines), re.M
    )

    # Three more calls spend the dollar; the next is refused for the budget, and the dashboard says so.
    assert [call(live, plaintext).status_code for _ in range(3)] == [200, 200, 200]
    refused = call(live, plaintext)
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "budget"
    page.goto(live.url + "/")
    card = page.locator(".card", has_text=key.public_prefix)
    reload_until(page, card, "1.00 USD of 1.00 USD spent this week")
    expect(card.locator(".budget-left")).to_have_text("0.00 USD left")
    expect(card.locator("progress.budget")).to_have_attribute("value", "1000000000")
