"""Single sign-on in the tests: the test OpenID Connect provider as a fixture, and the whole log-in flow.

A test module imports the oidc_provider fixture (under the name oidc_provider_fixture) and the helpers::

    from conftest import sqlite_test_url
    from testsupport.sso import oidc_provider_fixture, sso_log_in, tollgate_with_sso  # noqa: F401 (a fixture)

    pytestmark = pytest.mark.django_db(transaction=True)  # the live server reads what the test writes

    def test_a_verified_address_at_the_domain_joins(oidc_provider, live_server_factory):
        tollgate, _ = tollgate_with_sso(
            lambda env: live_server_factory({"DATABASE_URL": sqlite_test_url(), **env}), oidc_provider
        )
        ann = oidc_provider.create_user("ann@corp.example")  # email_verified=False or "false" for the other case
        done = sso_log_in(tollgate.url, "testidp", ann)
        assert done.landing.url == tollgate.url + "/"  # logged in; done.session carries on as Ann

The provider runs once per test process (xdist worker) on its own port and SQLite file; each test makes
its own users and clients there, so tests never see each other's.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Protocol
from urllib.parse import urljoin

import pytest
import requests

from testsupport.oidc_provider.server import OidcProvider, ProviderClient, ProviderUser

DEFAULT_PROVIDER_ID = "testidp"
DEFAULT_PROVIDER_NAME = "Test IdP"


class Server(Protocol):
    url: str


@pytest.fixture(scope="session", name="oidc_provider")
def oidc_provider_fixture() -> Iterator[OidcProvider]:
    """The test OpenID Connect provider, started once for this test process."""
    with OidcProvider() as provider:
        yield provider


def callback_url(tollgate_url: str, provider_id: str = DEFAULT_PROVIDER_ID) -> str:
    return f"{tollgate_url}/accounts/oidc/{provider_id}/login/callback/"


def sso_env(
    provider: OidcProvider,
    client: ProviderClient,
    provider_id: str = DEFAULT_PROVIDER_ID,
    name: str = DEFAULT_PROVIDER_NAME,
) -> dict[str, str]:
    """The environment that configures Tollgate with this provider (docs/configuration.md)."""
    prefix = f"SSO_OIDC_{provider_id.upper().replace('-', '_')}_"
    return {
        "SSO_OIDC_PROVIDERS": provider_id,
        prefix + "NAME": name,
        prefix + "SERVER_URL": provider.issuer,
        prefix + "CLIENT_ID": client.client_id,
        prefix + "SECRET": client.secret,
    }


def tollgate_with_sso(
    start: Callable[[dict[str, str]], Server],
    provider: OidcProvider,
    provider_id: str = DEFAULT_PROVIDER_ID,
    env: dict[str, str] | None = None,
) -> tuple[Server, ProviderClient]:
    """Tollgate started by `start(env)` with the provider configured, and its client registered there.

    `start` gets the SSO variables merged with `env`; it is typically the live_server_factory fixture
    with DATABASE_URL added. The client is registered once the server's callback URL is known."""
    client = provider.new_client()
    server = start({**sso_env(provider, client, provider_id), **(env or {})})
    provider.register_client(client, redirect_uris=[callback_url(server.url, provider_id)])
    return server, client


@dataclass
class SsoLogIn:
    """The end of one log-in: the browser-like session, where Tollgate sent it to the provider, and where it landed.

    `landing` is Tollgate's last answer after every redirect: "/" when logged in, /accounts/2fa/authenticate/
    when a code is due, the site's sign-up page when the provider gave no usable email, or an error page."""

    session: requests.Session
    authorize_url: str
    landing: requests.Response


_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def sso_log_in(
    tollgate_url: str,
    provider_id: str,
    user: ProviderUser,
    *,
    session: requests.Session | None = None,
    page: str = "/accounts/login/",
) -> SsoLogIn:
    """Log in to Tollgate as `user` through the provider, as a browser would.

    Presses the provider's button on `page` (a POST form, which allauth requires), logs in on the
    provider's login form unless `session` is already logged in there, and follows every redirect
    back to Tollgate. Raises AssertionError when the page has no button for `provider_id` or the
    provider refuses the password."""
    if session is None:
        session = requests.Session()
        session.trust_env = False  # loopback only: no proxy from the environment
    start = f"/accounts/oidc/{provider_id}/login/"
    login_page = session.get(tollgate_url + page, timeout=10)
    actions = [unescape(action) for action in _FORM.findall(login_page.text) if unescape(action).startswith(start)]
    assert len(actions) == 1, f"no single button for {provider_id} on {page}: {actions}"
    to_provider = session.post(
        urljoin(login_page.url, actions[0]),
        data={"csrfmiddlewaretoken": _csrf(login_page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert to_provider.status_code == 302, to_provider.text[:500]
    authorize_url = to_provider.headers["Location"]
    response = session.get(authorize_url, timeout=10)
    if "/login/" in response.url and not response.url.startswith(tollgate_url + "/"):
        response = session.post(
            response.url,
            data={
                "csrfmiddlewaretoken": _csrf(response.text),
                "username": user.username,
                "password": user.password,
                "next": unescape(re.search(r'name="next" value="([^"]*)"', response.text).group(1)),
            },
            timeout=10,
        )
        assert response.url.startswith(tollgate_url + "/"), f"the provider refused the log-in: {response.url}"
    return SsoLogIn(session=session, authorize_url=authorize_url, landing=response)


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)
