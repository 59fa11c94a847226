import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.django_db
def test_healthz_503_when_the_database_fails(client, monkeypatch):
    def broken(*args, **kwargs):
        raise connection.Database.OperationalError("unreachable")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


STORES = "s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CHANNEL_LAYERS['default']['BACKEND']"


def load_settings(show: str = f"{STORES}, s.DEBUG", **env) -> subprocess.CompletedProcess:
    """Start Django's settings in a fresh process with only `env` set, and print `show`."""
    code = f"import django; django.setup(); from django.conf import settings as s; print({show})"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_are_sqlite_database_cache_and_in_memory_layer():
    result = load_settings(DJANGO_DEBUG="1")
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.db.DatabaseCache",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]


def test_database_and_redis_urls_are_read():
    result = load_settings(
        DJANGO_DEBUG="1", DATABASE_URL="postgres://u@127.0.0.1:5432/test", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.stdout.split()[:3] == [
        "django.db.backends.postgresql",
        "django.core.cache.backends.redis.RedisCache",
        "channels_redis.core.RedisChannelLayer",
    ]


def test_bad_database_url_is_a_clear_error():
    result = load_settings(DJANGO_DEBUG="1", DATABASE_URL="mysqll//oops")
    assert result.returncode != 0
    assert "DATABASE_URL must look like" in result.stderr


def test_no_secret_key_without_debug_refuses_to_start():
    result = load_settings(DJANGO_DEBUG="0")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr
    assert load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50).returncode == 0


def test_https_settings_are_off_by_default_and_on_by_variable():
    show = "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS"
    assert load_settings(show, DJANGO_DEBUG="1").stdout.split() == ["False", "False", "0"]
    assert load_settings(show, DJANGO_DEBUG="1", DJANGO_HTTPS="1").stdout.split() == ["True", "True", "31536000"]


@pytest.mark.django_db
def test_not_found_page_is_styled_and_plain(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Page not found" in response.content.decode()
