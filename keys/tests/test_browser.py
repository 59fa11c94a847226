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
