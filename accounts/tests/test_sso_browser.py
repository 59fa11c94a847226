"""Single sign-on in Chromium: a provider's button on the login page takes a real browser there and back."""

import pytest

from accounts.tests.test_sso import ID, site_fixture  # noqa: F401 (a fixture)
from testsupport.sso import oidc_provider_fixture  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_providers_button_logs_a_browser_in(site, oidc_provider, page):
    jo = oidc_provider.create_user("jo@example.com")
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.goto(site.url + "/accounts/login/")
    page.get_by_role("button", name="Continue with Test IdP").click()
    page.wait_for_url(oidc_provider.url + "/login/?**")
    assert not refused
    page.fill("input[name=username]", jo.username)
    page.fill("input[name=password]", jo.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/")
    page.goto(site.url + "/account/")
    assert "jo@example.com" in page.text_content("main")
