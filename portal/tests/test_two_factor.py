"""Two-factor with allauth.mfa: enrolling a TOTP app, logging in with a code, and staff required to enrol."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, TOTP, format_hotp_value, hotp_value
from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time as counters

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def code_for(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, list(counters())[len(list(counters())) // 2]))


@pytest.fixture
def logged_in(client, user):
    """Logged in, with the password given again: allauth asks for it before a security change."""
    client.force_login(user)
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_user_enrols_a_totp_app_from_the_account_page(logged_in, user):
    alice_client = logged_in
    page = alice_client.get("/account/").content.decode()
    assert "Turn on two-factor" in page
    assert alice_client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = alice_client.session[SECRET_SESSION_KEY]
    response = alice_client.post("/accounts/2fa/totp/activate/", {"code": code_for(secret)})
    assert response.status_code == 302
    assert set(Authenticator.objects.filter(user=user).values_list("type", flat=True)) >= {"totp"}
    assert "<strong>On.</strong>" in alice_client.get("/account/").content.decode()


def test_a_wrong_code_does_not_enrol(logged_in, user):
    alice_client = logged_in
    alice_client.get("/accounts/2fa/totp/activate/")
    response = alice_client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert response.status_code == 200 and not Authenticator.objects.filter(user=user).exists()


def test_logging_in_then_asks_for_a_code(client, user):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # the password alone is not enough
    client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert "_auth_user_id" not in client.session
    client.post("/accounts/2fa/authenticate/", {"code": code_for(secret)})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_staff_without_two_factor_are_sent_to_enrol_when_required(client, user_factory, settings):
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200  # not required by default
    settings.REQUIRE_STAFF_MFA = True
    response = client.get("/admin/keys/apikey/")
    assert response.status_code == 302 and response["location"] == "/accounts/2fa/totp/activate/"
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert client.get("/admin/keys/apikey/").status_code == 200


def test_required_staff_two_factor_leaves_other_users_and_pages_alone(alice_client, settings):
    settings.REQUIRE_STAFF_MFA = True
    assert alice_client.get("/keys/").status_code == 200


def test_the_account_page_is_well_formed(alice_client):
    page = alice_client.get("/account/").content.decode()
    assert "<title>Account · Tollgate</title>" in page and page.count('aria-labelledby="mail"') == 1


def test_without_a_confirmed_email_the_two_factor_pages_say_so_and_resend_the_mail(client, user, mailoutbox):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=user).update(verified=False)
    client.force_login(user)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    for url in ("/accounts/2fa/", "/accounts/2fa/totp/activate/", "/account/"):
        page = client.get(url, follow=True).content.decode()  # activating sends back to /accounts/2fa/
        assert "Two-factor authentication needs a confirmed email address" in page, url
        assert 'name="action_send"' in page and f'value="{user.email}"' in page
    # The resend button posts to allauth's email page, which sends the confirmation mail.
    response = client.post("/accounts/email/", {"email": user.email, "action_send": ""})
    assert response.status_code == 302
    assert [mail.to for mail in mailoutbox] == [[user.email]]
    assert "confirm" in mailoutbox[0].subject.lower()


def test_with_a_confirmed_email_the_notice_is_not_shown(logged_in):
    for url in ("/accounts/2fa/", "/accounts/2fa/totp/activate/", "/account/"):
        assert "needs a confirmed email address" not in logged_in.get(url).content.decode()
