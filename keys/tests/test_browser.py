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
