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


def test_every_page_passes_its_content_security_policy(page, live, user, user_factory, plans, key_factory):
    """No page needs an inline script: Chromium reports no violation while each one loads and works."""
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    response = page.goto(live.url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "camera=()" in response.headers["permissions-policy"]
    page.goto(live.url + "/accounts/signup/")
    page.goto(live.url + "/accounts/login/")
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    from conftest import browser_log_in

    browser_log_in(page, live, staff.email)
    page.goto(live.url + "/keys/")
    page.locator(".card.plan", has_text="10RequestPerDay").get_by_role("button", name="Generate Key").click()
    expect(page.get_by_label("Your new API key")).to_be_visible()
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")  # chat.js ran and its socket connected
    page.get_by_label("Message").fill("hello")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".bubble.assistant").last).not_to_have_class("bubble assistant streaming")
    for path in ("/account/", "/admin/", "/admin/keys/plan/", "/admin/gateway/upstream/add/"):
        page.goto(live.url + path)
    assert violations == []
    # The check itself works: an injected inline script is blocked and reported.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.text = 'window.ran = 1'; document.body.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None and any("script-src" in v for v in violations)


def test_turning_on_two_factor_then_logging_in_with_a_code(page, live, user):
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    from conftest import PASSWORD, browser_log_in

    def code(secret: str) -> str:
        counters = list(yield_hotp_counters_from_time())
        return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))

    browser_log_in(page, live, user.email)
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Turn on two-factor").click()
    page.get_by_label("Password").fill(PASSWORD)  # allauth asks again before a security change
    page.get_by_label("Password").press("Enter")
    secret = page.get_by_label("Authenticator secret").input_value()
    expect(page.locator("img[src^='data:image/svg']")).to_be_visible()  # the QR code, allowed by the CSP
    page.get_by_label("Authenticator code").fill(code(secret))
    page.get_by_role("button", name="Activate").click()
    page.goto(live.url + "/account/")
    expect(page.get_by_text("On.", exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    page.goto(live.url + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.get_by_placeholder("Code").fill(code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
