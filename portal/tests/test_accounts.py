import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

pytestmark = pytest.mark.django_db


def test_sign_up_with_email_and_password_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
        follow=True,
    )
    assert response.status_code == 200
    assert get_user_model().objects.filter(email="new@example.com").exists()
    assert response.context["user"].is_authenticated
    assert "Dashboard" in response.content.decode()


def test_sign_up_rejects_mismatched_passwords(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "x@example.com", "password1": "a-long-unusual-pass-42", "password2": "other-pass-4242"},
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(email="x@example.com").exists()


def test_log_in_with_email_and_log_out(client, user):
    response = client.post(
        "/accounts/login/", {"login": "alice@example.com", "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 302
    assert client.get("/").context["user"] == user
    client.post("/accounts/logout/")
    assert not client.get("/").context["user"].is_authenticated


def test_wrong_password_is_refused(client, user):
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_password_reset_sends_a_working_link(client, user):
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    action = form.redirect_chain[-1][0] if form.redirect_chain else link
    response = client.post(action, {"password1": "brand-new-pass-9876", "password2": "brand-new-pass-9876"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-9876")


@pytest.mark.parametrize("url", ["/keys/", "/chat/"])
def test_protected_pages_redirect_visitors_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["location"].startswith("/accounts/login/")


def test_landing_page_for_visitors_and_dashboard_for_users(client, user, plans):
    landing = client.get("/").content.decode()
    assert "Sign up" in landing and "10RequestPerDay" in landing
    client.force_login(user)
    dashboard = client.get("/").content.decode()
    assert "alice@example.com" in dashboard and "no API key yet" in dashboard


def test_admin_is_for_staff_only(client, user_factory):
    client.force_login(user_factory("plain@example.com"))
    assert client.get("/admin/").status_code == 302
    client.force_login(user_factory("staff@example.com", is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200


def test_mandatory_email_verification_holds_the_account_until_confirmed(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.post(
        "/accounts/signup/",
        {"email": "eve@example.com", "password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"},
    )
    assert not client.get("/").context["user"].is_authenticated
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+)", mail.outbox[0].body).group(1)
    client.post(link)
    response = client.post("/accounts/login/", {"login": "eve@example.com", "password": "a-long-unusual-pass-42"})
    assert response.status_code == 302
    assert client.get("/").context["user"].email == "eve@example.com"
