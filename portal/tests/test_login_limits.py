"""Without Redis, allauth's log-in limits and TOTP replay guard hold across processes (the database cache)."""

import os
import re
import subprocess
import sys

import httpx
import pytest

from conftest import PASSWORD, sqlite_test_url

pytestmark = pytest.mark.django_db(transaction=True)
TOO_MANY = "Too many failed login attempts"


def log_in(client: httpx.Client, url: str, email: str, password: str) -> httpx.Response:
    page = client.get(url + "/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"login": email, "password": password, "csrfmiddlewaretoken": token}
    return client.post(url + "/accounts/login/", data=form)


def test_failed_log_ins_count_across_processes(user_factory, live_server_factory, live_server_env):
    from django.core.cache import cache

    cache.clear()  # the test database's cache table: earlier tests' log-ins from 127.0.0.1 count against it
    email = "limited@example.com"
    user_factory(email)
    env = {"DATABASE_URL": sqlite_test_url(), **live_server_env}
    first, second = live_server_factory(env), live_server_factory(env)
    # Both answer as one site (allauth keys the count by the request's host), like workers behind one port.
    site = {"host": "localhost"}
    with httpx.Client(headers=site) as one, httpx.Client(headers=site) as two:
        # allauth allows 5 failures per address in 5 minutes: here 3 in one process and 2 in the other.
        for client, server in [(one, first), (two, second), (one, first), (two, second), (one, first)]:
            answer = log_in(client, server.url, email, "wrong-password")
            assert answer.status_code == 200 and TOO_MANY not in answer.text
        answer = log_in(two, second.url, email, PASSWORD)
    assert answer.status_code == 200 and TOO_MANY in answer.text  # the right password, refused for now


def test_a_totp_code_used_in_one_process_is_refused_in_another(user):
    """allauth marks a used code with cache.add(); another process's add must then fail."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal import auth

    secret = auth.generate_totp_secret()
    totp = auth.TOTP.activate(user, secret)
    code = auth.format_hotp_value(auth.hotp_value(secret, next(auth.yield_hotp_counters_from_time())))
    assert totp.validate_code(code)
    script = (
        "import django; django.setup();"
        "from allauth.mfa.models import Authenticator; from allauth.mfa.totp.internal.auth import TOTP;"
        f"print(TOTP(Authenticator.objects.get(pk={totp.instance.pk})).validate_code({code!r}))"
    )
    env = {**os.environ, "DATABASE_URL": sqlite_test_url(), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False"], result.stderr
    assert Authenticator.objects.filter(user=user).exists()
