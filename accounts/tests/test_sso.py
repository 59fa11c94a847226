"""Single sign-on, end to end: Tollgate under daphne against a real OpenID Connect provider on loopback.

The provider (testsupport/oidc_provider) is django-oauth-toolkit with OIDC, a fresh RS256 key and PKCE
required with S256; see testsupport/sso.py for the fixture and the log-in flow.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import environ
import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured

from accounts.sso import sso_form_action_sources, sso_providers_from_env
from conftest import PASSWORD, LiveServer, sqlite_test_url
from testsupport.oidc_provider.server import OidcProvider, ProviderClient
from testsupport.sso import callback_url, oidc_provider_fixture, sso_log_in, tollgate_with_sso  # noqa: F401

ID = "testidp"


@dataclass
class Site:
    url: str
    client: ProviderClient


@pytest.fixture(scope="module", name="site")
def site_fixture(django_db_setup, test_run_dir, oidc_provider) -> Iterator[Site]:
    """Tollgate under daphne on the test database, with the provider from the environment and staff two-factor on."""
    started: list[LiveServer] = []

    def start(env: dict[str, str]) -> LiveServer:
        started.append(
            LiveServer({"DATABASE_URL": sqlite_test_url(), "REQUIRE_STAFF_MFA": "1", **env}, run_dir=test_run_dir)
        )
        return started[-1]

    try:
        server, client = tollgate_with_sso(start, oidc_provider, ID)
        yield Site(server.url, client)
    finally:
        for server in started:
            server.stop()


def logged_in_as(session: requests.Session, url: str) -> AbstractBaseUser | None:
    """The Tollgate user this session is logged in as, or None."""
    page = session.get(url + "/account/", allow_redirects=False, timeout=10)
    if page.status_code != 200:
        return None
    email = re.search(r"Signed in as <strong>([^<]+)</strong>", page.text).group(1)
    return get_user_model().objects.get(email=email)


def code_for(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


# -- the environment --------------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch) -> Iterator[environ.Env]:
    for name in list(os.environ):
        if name.startswith("SSO_"):
            monkeypatch.delenv(name)
    yield environ.Env()


def test_no_variables_configure_no_apps_but_keep_pkce_on_for_apps_from_the_admin(env):
    providers = sso_providers_from_env(env)
    assert [app for config in providers.values() for app in config["APPS"]] == []
    assert providers["openid_connect"]["OAUTH_PKCE_ENABLED"] and providers["google"]["OAUTH_PKCE_ENABLED"]


def test_several_openid_connect_providers_and_github(env, monkeypatch):
    for name, value in {
        "SSO_OIDC_PROVIDERS": "okta, keycloak-eu",
        "SSO_OIDC_OKTA_NAME": "Okta",
        "SSO_OIDC_OKTA_SERVER_URL": "https://corp.okta.com/oauth2/default/",
        "SSO_OIDC_OKTA_CLIENT_ID": "okta-client",
        "SSO_OIDC_OKTA_SECRET": "okta-secret",
        "SSO_OIDC_KEYCLOAK_EU_NAME": "Keycloak",
        "SSO_OIDC_KEYCLOAK_EU_SERVER_URL": "https://sso.example.com/realms/staff",
        "SSO_OIDC_KEYCLOAK_EU_CLIENT_ID": "tollgate",
        "SSO_OIDC_KEYCLOAK_EU_SECRET": "kc-secret",
        "SSO_GITHUB_CLIENT_ID": "gh-client",
        "SSO_GITHUB_SECRET": "gh-secret",
    }.items():
        monkeypatch.setenv(name, value)
    providers = sso_providers_from_env(env)
    assert providers["openid_connect"] == {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": "okta",
                "name": "Okta",
                "client_id": "okta-client",
                "secret": "okta-secret",
                "settings": {"server_url": "https://corp.okta.com/oauth2/default"},
            },
            {
                "provider_id": "keycloak-eu",
                "name": "Keycloak",
                "client_id": "tollgate",
                "secret": "kc-secret",
                "settings": {"server_url": "https://sso.example.com/realms/staff"},
            },
        ],
    }
    assert providers["github"] == {"APPS": [{"client_id": "gh-client", "secret": "gh-secret"}]}
    assert providers["google"]["APPS"] == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SSO_OIDC_PROVIDERS": "okta"}, "SSO_OIDC_OKTA_NAME must be set: SSO_OIDC_PROVIDERS names 'okta'"),
        (
            {"SSO_OIDC_PROVIDERS": "okta", "SSO_OIDC_OKTA_NAME": "Okta", "SSO_OIDC_OKTA_SERVER_URL": "https://a.b"},
            "SSO_OIDC_OKTA_CLIENT_ID must be set",
        ),
        ({"SSO_GITHUB_CLIENT_ID": "gh"}, "SSO_GITHUB_SECRET must be set: single sign-on with GitHub is half"),
        ({"SSO_GOOGLE_SECRET": "g"}, "SSO_GOOGLE_CLIENT_ID must be set"),
        ({"SSO_OIDC_PROVIDERS": "Okta"}, "'Okta' is not a usable provider id"),
        ({"SSO_OIDC_PROVIDERS": "github"}, "'github' is not a usable provider id"),
        ({"SSO_OIDC_PROVIDERS": "a-b,a_b"}, "'a-b' and 'a_b' would share the variables SSO_OIDC_A_B_*"),
    ],
)
def test_a_missing_or_wrong_variable_is_named_at_start(env, monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        sso_providers_from_env(env)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sso.example.com", True),
        ("http://127.0.0.1:8080/o", True),
        ("http://localhost/realms/x", True),
        ("http://sso.example.com", False),  # allauth trusts the token endpoint's ID token on the strength of TLS
        ("sso.example.com", False),
    ],
)
def test_the_issuer_url_must_be_https_except_on_this_machine(env, monkeypatch, url, allowed):
    variables = {"PROVIDERS": "x", "X_NAME": "X", "X_SERVER_URL": url, "X_CLIENT_ID": "c", "X_SECRET": "s"}
    for name, value in variables.items():
        monkeypatch.setenv(f"SSO_OIDC_{name}", value)
    if allowed:
        assert sso_providers_from_env(env)["openid_connect"]["APPS"][0]["settings"]["server_url"] == url
    else:
        with pytest.raises(ImproperlyConfigured, match="SSO_OIDC_X_SERVER_URL must"):
            sso_providers_from_env(env)


# -- the pages ---------------------------------------------------------------------------------------------------


@pytest.fixture
def three_providers(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": pid,
                    "name": name,
                    "client_id": "c",
                    "secret": "s",
                    "settings": {"server_url": "https://x"},
                }
                for pid, name in (("okta", "Okta"), ("keycloak", "Keycloak"))
            ],
        },
        "github": {"APPS": [{"client_id": "c", "secret": "s"}]},
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_the_login_and_signup_pages_show_a_post_button_per_provider(client, three_providers, path):
    page = client.get(path + "?next=/keys/").content.decode()
    forms = re.findall(
        r'<form method="post" action="([^"]+)" class="inline">\s*(<input[^>]+>)\s*<button[^>]*>([^<]+)<', page
    )
    assert sorted((action.replace("&amp;", "&"), button.strip()) for action, _, button in forms) == [
        ("/accounts/github/login/?process=login&next=%2Fkeys%2F", "Continue with GitHub"),
        ("/accounts/oidc/keycloak/login/?process=login&next=%2Fkeys%2F", "Continue with Keycloak"),
        ("/accounts/oidc/okta/login/?process=login&next=%2Fkeys%2F", "Continue with Okta"),
    ]
    assert all('name="csrfmiddlewaretoken"' in token for _, token, _ in forms)
    assert 'class="topbar"' in page


@pytest.mark.django_db
def test_the_buttons_lead_on_to_each_providers_origin_which_the_pages_form_action_must_allow(three_providers):
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id="cognito",
        name="Cognito",
        client_id="c",
        settings={
            "server_url": "https://cognito-idp.eu-west-1.amazonaws.com/pool",
            "openid_configuration_overrides": {"authorization_endpoint": "https://corp.auth.example.com/authorize"},
        },
    )
    assert sso_form_action_sources() == [
        "https://cognito-idp.eu-west-1.amazonaws.com",
        "https://corp.auth.example.com",
        "https://github.com",
        "https://x",
    ]


@pytest.mark.django_db
def test_without_providers_the_login_page_has_no_third_party_part(client):
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/oidc/" not in page and "third-party" not in page


@pytest.mark.django_db
def test_the_connections_page_offers_each_provider_in_the_sites_layout(client, user, three_providers):
    client.force_login(user)
    page = client.get("/accounts/3rdparty/").content.decode()
    assert 'class="topbar"' in page and "container narrow auth" in page
    assert page.count('action="/accounts/oidc/') == 2 and "process=connect" in page


# -- log-in end to end --------------------------------------------------------------------------------------------

live = pytest.mark.django_db(transaction=True)


@live
def test_a_provider_user_signs_up_with_pkce_and_a_second_log_in_reuses_the_account(site, oidc_provider):
    ann = oidc_provider.create_user("ann@example.com", name="Ann Example")
    first = sso_log_in(site.url, ID, ann)

    assert first.landing.url == site.url + "/"
    user = logged_in_as(first.session, site.url)
    assert user is not None and user.email == "ann@example.com" and not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified  # the provider said email_verified: true
    # Discovery gave the authorize URL; PKCE went with it, and the provider checked the verifier.
    assert first.authorize_url.startswith(oidc_provider.issuer + "/authorize/?")
    assert "code_challenge_method=S256" in first.authorize_url and "code_challenge=" in first.authorize_url
    ((method, scopes),) = [(a["code_challenge_method"], a["scopes"]) for a in oidc_provider.authorizations(site.client)]
    assert method == "S256" and set(scopes.split()) == {"openid", "profile", "email"}
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == (ID, ann.sub)
    id_token = account.extra_data["id_token"]  # decoded by allauth, issuer and audience checked
    assert (id_token["iss"], id_token["aud"], id_token["email"]) == (
        oidc_provider.issuer,
        site.client.client_id,
        ann.email,
    )

    second = sso_log_in(site.url, ID, ann)  # a new browser: the provider asks for the password again
    assert logged_in_as(second.session, site.url) == user
    assert SocialAccount.objects.count() == 1 and get_user_model().objects.count() == 1
    assert len(oidc_provider.authorizations(site.client)) == 2


@live
def test_a_verified_address_signs_in_to_the_local_account_that_has_it(site, oidc_provider, user_factory):
    carol = user_factory("carol@example.com")
    done = sso_log_in(site.url, ID, oidc_provider.create_user("carol@example.com"))
    assert logged_in_as(done.session, site.url) == carol
    assert SocialAccount.objects.get(provider=ID).user == carol  # connected: later renames do not matter
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)  # her address was verified: nothing to wipe


@live
@pytest.mark.parametrize("verified", [False, "false"])
def test_an_unverified_address_never_signs_in_to_an_existing_account(site, oidc_provider, user_factory, verified):
    dave = user_factory("dave@example.com")
    done = sso_log_in(site.url, ID, oidc_provider.create_user("dave@example.com", email_verified=verified))
    assert logged_in_as(done.session, site.url) is None
    assert done.landing.url == site.url + "/accounts/3rdparty/signup/"  # asked for an address of their own
    assert not SocialAccount.objects.exists()
    dave.refresh_from_db()
    assert dave.check_password(PASSWORD)


@live
def test_a_provider_user_without_an_email_completes_the_sites_own_signup_page(site, oidc_provider):
    done = sso_log_in(site.url, ID, oidc_provider.create_user("", email_verified=False))
    assert done.landing.url == site.url + "/accounts/3rdparty/signup/"
    page = done.landing.text
    assert 'class="topbar"' in page and "container narrow auth" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    done.session.post(done.landing.url, data={"csrfmiddlewaretoken": token, "email": "erin@example.com"}, timeout=10)
    user = logged_in_as(done.session, site.url)
    assert user.email == "erin@example.com" and SocialAccount.objects.get().user == user


@live
def test_staff_with_two_factor_still_give_a_code_after_the_provider(site, oidc_provider):
    frank = oidc_provider.create_user("frank@example.com")
    user = logged_in_as(sso_log_in(site.url, ID, frank).session, site.url)
    user.is_staff = user.is_superuser = True
    user.save()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    done = sso_log_in(site.url, ID, frank)
    assert done.landing.url == site.url + "/accounts/2fa/authenticate/"
    assert logged_in_as(done.session, site.url) is None  # the provider alone is not enough
    assert done.session.get(site.url + "/admin/", timeout=10).url == site.url + "/accounts/2fa/authenticate/"
    page = done.session.get(site.url + "/accounts/2fa/authenticate/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    done.session.post(
        site.url + "/accounts/2fa/authenticate/",
        data={"csrfmiddlewaretoken": token, "code": code_for(secret)},
        timeout=10,
    )
    assert logged_in_as(done.session, site.url) == user
    assert done.session.get(site.url + "/admin/", allow_redirects=False, timeout=10).status_code == 200


@live
def test_staff_without_two_factor_are_sent_to_enrol_and_can_right_after_the_provider(site, oidc_provider):
    grace = oidc_provider.create_user("grace@example.com")
    done = sso_log_in(site.url, ID, grace)
    get_user_model().objects.filter(email="grace@example.com").update(is_staff=True, is_superuser=True)

    admin = done.session.get(site.url + "/admin/", allow_redirects=False, timeout=10)
    assert (admin.status_code, admin.headers["Location"]) == (302, "/accounts/2fa/totp/activate/")
    # No password to give again: the log-in with the provider was just now, which is enough.
    activate = done.session.get(site.url + "/accounts/2fa/totp/activate/", timeout=10)
    assert activate.url == site.url + "/accounts/2fa/totp/activate/" and 'name="code"' in activate.text


def admin_app(provider: OidcProvider, site_url: str, provider_id: str, **settings) -> SocialApp:
    """An OpenID Connect app as staff would add it in the admin, registered at the provider."""
    client = provider.new_client()
    provider.register_client(client, redirect_uris=[callback_url(site_url, provider_id)])
    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id=provider_id,
        name="From the admin",
        client_id=client.client_id,
        secret=client.secret,
        settings={"server_url": provider.issuer, **settings},
    )


@live
def test_an_app_added_in_the_admin_signs_in_too(site, oidc_provider):
    admin_app(oidc_provider, site.url, "fromadmin")
    done = sso_log_in(site.url, "fromadmin", oidc_provider.create_user("hana@example.com"))
    assert logged_in_as(done.session, site.url).email == "hana@example.com"
    assert SocialAccount.objects.get().provider == "fromadmin"


@live
def test_an_id_token_from_another_issuer_is_refused(site, oidc_provider):
    # The app expects another issuer than the one the provider signs as: allauth must refuse its ID token.
    admin_app(oidc_provider, site.url, "elsewhere", openid_configuration_overrides={"issuer": "https://elsewhere"})
    done = sso_log_in(site.url, "elsewhere", oidc_provider.create_user("ivan@example.com"))
    assert done.landing.url.startswith(site.url + "/accounts/oidc/elsewhere/login/callback/")
    assert "Third-Party Login Failure" in done.landing.text and 'class="topbar"' in done.landing.text
    assert logged_in_as(done.session, site.url) is None
    assert not SocialAccount.objects.exists() and not get_user_model().objects.exists()


def test_the_staff_admin_lists_social_apps(admin_client):
    assert admin_client.get("/admin/socialaccount/socialapp/add/").status_code == 200
