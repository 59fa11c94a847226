"""Sign up, log out and log in through the real pages in Chromium."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_log_out_and_log_in(page, live, plans):
    page.goto(live.url + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("key")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "carol@example.com")
    page.fill("input[name=password1]", "a-long-unusual-pass-42")
    page.fill("input[name=password2]", "a-long-unusual-pass-42")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("carol@example.com", exact=True)).to_be_visible()
    # The stylesheet is served (whitenoise, DJANGO_DEBUG=0).
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()

    page.goto(live.url + "/accounts/login/")
    page.fill("input[name=login]", "carol@example.com")
    page.fill("input[name=password]", "a-long-unusual-pass-42")
    page.press("input[name=password]", "Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
