"""The favicon, and styled 403, 404, 500 and CSRF-failure pages in English and Thai with the Thai font."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import permission_denied

from portal.views import server_error

pytestmark = pytest.mark.django_db
FONT = 'href="/static/css/fonts.css"'
ICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_favicon_ico_leads_to_the_svg_icon_which_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon["content-type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)


def test_every_kind_of_page_links_the_icon(client, alice_client, admin_client):
    assert ICON in client.get("/").content.decode()
    assert ICON in alice_client.get("/keys/").content.decode()
    assert ICON in admin_client.get("/admin/").content.decode()
    assert ICON in client.get("/nowhere/").content.decode()


@pytest.mark.parametrize(
    ("language", "title"), [("en", "<title>Not found · Tollgate</title>"), ("th", "<title>ไม่พบหน้า · Tollgate</title>")]
)
def test_404_in_both_languages(client, language, title):
    response = client.get("/nowhere/", HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 404 and title in page and FONT in page
    assert f'<html lang="{language}">' in page


@pytest.mark.parametrize(("language", "words"), [("en", "You may not do that"), ("th", "คุณไม่มีสิทธิ์ทำสิ่งนี้")])
def test_403_in_both_languages(language, words, user):
    request = RequestFactory().get("/somewhere/")
    request.user = user
    with translation.override(language):
        response = permission_denied(request, PermissionDenied())
    page = response.content.decode()
    assert response.status_code == 403 and words in page and FONT in page and ICON in page


@pytest.mark.parametrize(("language", "words"), [("en", "Something went wrong"), ("th", "เกิดข้อผิดพลาด")])
def test_500_in_both_languages(language, words):
    with translation.override(language):
        response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500 and words in page and FONT in page and ICON in page


@pytest.mark.parametrize(("language", "title"), [("en", "Please try again"), ("th", "โปรดลองอีกครั้ง")])
def test_a_refused_form_gets_the_sites_own_csrf_page(user, plans, language, title):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        "/keys/generate",
        {"plan_name": "10RequestPerDay"},
        HTTP_ACCEPT_LANGUAGE=language,
        HTTP_REFERER="http://testserver/keys/",
    )
    page = response.content.decode()
    assert response.status_code == 403
    assert f"<title>{title} · Tollgate</title>" in page and FONT in page and ICON in page
    assert 'href="http://testserver/keys/"' in page  # back to where the form was
    assert "CSRF" not in page  # the reason is for developers (shown in debug only)
    assert not user.api_keys.exists()


def test_the_csrf_page_never_links_back_to_another_site(user, plans):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.post("/keys/generate", {}, HTTP_REFERER="https://evil.example/").content.decode()
    assert "evil.example" not in page
