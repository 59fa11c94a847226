"""Generate a key on /keys/ in Chromium and see it exactly once."""

import pytest
from playwright.sync_api import expect

from conftest import browser_log_in
from keys.models import ApiKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_generate_key_shows_it_once(page, live, user, plans):
    browser_log_in(page, live, user.email)
    page.goto(live.url + "/keys/")
    expect(page.get_by_text("No keys yet")).to_be_visible()
    card = page.locator(".card.plan", has_text="20RequestPerDay")
    card.get_by_placeholder("Label (optional)").fill("my laptop")
    card.get_by_role("button", name="Generate Key").click()
    field = page.get_by_label("Your new API key")
    expect(field).to_be_visible()
    plaintext = field.input_value()
    assert plaintext.startswith("tg-")
    expect(page.get_by_text("This is the only time it is shown")).to_be_visible()
    key = ApiKey.objects.get(owner=user)
    assert key.public_prefix == plaintext[:11]

    page.goto(live.url + "/keys/")
    assert plaintext not in page.content()
    row = page.locator("tr", has_text=key.public_prefix)
    expect(row).to_contain_text("my laptop")
    expect(row).to_contain_text("0 / 20")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(f"Key {key.public_prefix} revoked")).to_be_visible()
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_key_with_a_lifetime_is_warned_about_and_can_switch_plans(page, live, user, plans):
    browser_log_in(page, live, user.email)
    page.goto(live.url + "/keys/")
    card = page.locator(".card.plan", has_text="10RequestPerDay")
    card.get_by_label("Lifetime of the 10RequestPerDay key").select_option("7")
    card.get_by_role("button", name="Generate Key").click()
    expect(page.get_by_label("Your new API key")).to_be_visible()
    page.goto(live.url + "/keys/")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("expires in 6 days")  # within the week's warning
    row.get_by_label("Move").select_option("30RequestPerDay")
    row.get_by_role("button", name="Switch plan").click()
    expect(page.get_by_role("status")).to_contain_text("now uses 30RequestPerDay")
    expect(page.locator("tbody tr").first).to_contain_text("30RequestPerDay")
    page.goto(live.url + "/")
    expect(page.get_by_role("alert")).to_contain_text("This key expires in 6 days")


def test_the_usage_page_charts_a_real_request_and_exports_it(page, live, user, key_factory):
    import httpx

    _, plaintext = key_factory(user)
    response = httpx.post(
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext},
        json={"model": "loopback-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    browser_log_in(page, live, user.email)
    page.get_by_role("navigation").get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Requests a day")
    expect(chart).to_be_visible()
    today = page.locator("table.usage-days tbody tr").first
    for _ in range(30):  # the live server writes usage within a second: until then the page has no day rows
        if today.locator("td").count() and today.locator("td").first.inner_text() == "1":
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(today.locator("td").first).to_have_text("1")
    bar = chart.locator("rect").last
    assert bar.get_attribute("data-value") == "1" and float(bar.get_attribute("height")) > 0
    expect(page.locator("table.usage-rows")).to_contain_text("loopback-model")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = open(download.value.path()).read().splitlines()
    assert lines[0] == "day,key_prefix,model,requests,prompt_tokens,completion_tokens,refused,cost"
    assert lines[1].endswith(",loopback-model,1,1,12,0,0.00")  # the default model has no price
