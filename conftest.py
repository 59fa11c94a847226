"""Fixtures shared by every test: users, plans, the loopback LLM upstream and live daphne servers."""

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from testsupport.services import PostgresServer, RedisServer, ServiceUnavailable, postgres_database, running
from testsupport.shared_redis import RedisDatabaseClaim
from testsupport.upstream import Upstream

ROOT = Path(__file__).resolve().parent
PASSWORD = "correct-horse-battery-staple"
# Sessions and loops left by async tests are collected after pytest closed its captured streams.
logging.raiseExceptions = False


@pytest.fixture(autouse=True)
def _usage_statistics_stay_in_their_test():
    """Usage batched in this process belongs to the test that made it, never to a later database."""
    from keys import metering
    from requestlog.writer import request_log_forget

    request_log_forget()
    yield
    metering.forget_pending()
    request_log_forget()


@pytest.fixture
def plans(db):
    """The seed's three plans; data-migration rows vanish after transactional tests, so ensure them."""
    from keys.models import Plan

    return {
        name: Plan.objects.get_or_create(name=name, defaults={"requests_per_day": n, "order": n})[0]
        for name, n in (("10RequestPerDay", 10), ("20RequestPerDay", 20), ("30RequestPerDay", 30))
    }


@pytest.fixture
def user_factory(db) -> Callable:
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    counter = iter(range(1, 10_000))

    def make(email: str | None = None, password: str = PASSWORD, **fields):
        email = email or f"user{next(counter)}@example.com"
        user = get_user_model().objects.create_user(username=email, email=email, password=password, **fields)
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        return user

    return make


@pytest.fixture
def user(user_factory):
    return user_factory("alice@example.com")


@pytest.fixture
def other_user(user_factory):
    return user_factory("bob@example.com")


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, user_factory):
    """A client logged in as a superuser, for the admin."""
    client.force_login(user_factory("staff@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def key_factory(plans) -> Callable:
    from keys.services import key_create

    def make(owner, plan_name: str = "10RequestPerDay", label: str = ""):
        return key_create(owner=owner, plan_name=plan_name, label=label)

    return make


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[Upstream]:
    server = Upstream().start_in_thread()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def second_upstream_server() -> Iterator[Upstream]:
    server = Upstream(reply="Second upstream here.").start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _catalogue_fresh_in_each_test():
    """Each test reads the catalogue as its own database has it, with every circuit closed."""
    from gateway import balancer
    from gateway.catalogue import catalogue_forget

    catalogue_forget()
    balancer.reset()
    yield
    catalogue_forget()


@pytest.fixture
def upstream(upstream_server: Upstream, settings) -> Iterator[Upstream]:
    """The loopback LLM, reset, and this process's settings pointing at it."""
    upstream_server.reset()
    settings.LLM_BASE_URL = upstream_server.base_url
    settings.LLM_API_KEY = "provider-secret-never-shown"
    settings.LLM_MODEL = "loopback-model"
    yield upstream_server
    upstream_server.reset()


def service_reachable(port: int) -> bool:
    """Whether a local service (PostgreSQL, Redis) answers on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def test_run_dir() -> Iterator[Path]:
    """This run's own folder (live servers' logs, the SQLite test database), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="tollgate-test-run-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, test_run_dir) -> None:
    """The SQLite test database lives in this run's folder: runs side by side never share one."""
    for database in settings.DATABASES.values():
        if database["ENGINE"] == "django.db.backends.sqlite3" and database.get("TEST", {}).get("NAME"):
            database["TEST"]["NAME"] = str(test_run_dir / Path(database["TEST"]["NAME"]).name)


@pytest.fixture(scope="session")
def test_redis() -> Iterator[RedisServer | RedisDatabaseClaim]:
    """This run's Redis: an empty database claimed on TEST_REDIS_URL, else a redis-server of its own."""
    try:
        if shared := os.environ.get("TEST_REDIS_URL"):
            claim = RedisDatabaseClaim(shared).claim()
            yield claim
            claim.release()
        else:
            with running(RedisServer) as server:
                yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def test_redis_url(test_redis) -> str:
    return test_redis.url


@pytest.fixture
def fresh_redis_url(test_redis) -> str:
    """The run's Redis emptied of what earlier tests wrote (it holds nothing else)."""
    test_redis.empty()
    return test_redis.url


@pytest.fixture(scope="session")
def test_postgres_url() -> str:
    """A PostgreSQL server to make databases on: TEST_DATABASE_URL, else the local one as postgres."""
    import psycopg

    url = os.environ.get("TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at {url} cannot be reached: {exc}")
    return url


@pytest.fixture
def fresh_postgres_database(test_postgres_url) -> Iterator[str]:
    """The URL of a database made for this test alone, dropped after it."""
    try:
        with postgres_database(test_postgres_url) as url:
            yield url
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop(), kill() and start() again, empty."""
    try:
        with running(RedisServer) as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, which it may stop() and start() again on its data."""
    try:
        with running(PostgresServer) as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


class LiveServer:
    """Tollgate under a real daphne process, as `make run` serves it."""

    def __init__(self, env: dict[str, str], server: str = "daphne", workers: int = 1, *, run_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "TOLLGATE_SPOOL_DIR")}
        # The same secret key as this process, so that upstream keys sealed here can be unsealed there.
        full_env.update({"DJANGO_SECRET_KEY": settings.SECRET_KEY, "DJANGO_DEBUG": "0", "TMPDIR": str(run_dir), **env})
        address = ["127.0.0.1", str(self.port)]
        if server == "daphne":
            command = [sys.executable, "-m", "daphne", "-b", address[0], "-p", address[1]]
        else:
            command = [sys.executable, "-m", "uvicorn", "--host", address[0], "--port", address[1]]
            # --no-proxy-headers: uvicorn would otherwise take X-Forwarded-For from a loopback peer as the
            # client, past TRUSTED_PROXIES (key address limits, the request log).
            command += ["--workers", str(workers), "--lifespan", "off", "--no-access-log", "--no-proxy-headers"]
        command.append("portal.asgi:application")
        self.log = open(run_dir / f".live-{self.port}.log", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"live server exited: {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"live server did not start: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def sqlite_test_url() -> str:
    return f"sqlite:///{settings.DATABASES['default']['NAME']}"


@pytest.fixture(scope="session")
def live_server_env(upstream_server) -> dict[str, str]:
    return {
        "LLM_BASE_URL": upstream_server.base_url,
        "LLM_API_KEY": "provider-secret-never-shown",
        "LLM_MODEL": "loopback-model",
        "GATEWAY_CATALOGUE_SECONDS": "0",  # tests change the catalogue and expect it at once
    }


@pytest.fixture(scope="session")
def live(django_db_setup, django_db_blocker, live_server_env, test_run_dir) -> Iterator[LiveServer]:
    """One daphne process on the test database (SQLite file), with the loopback upstream."""
    server = LiveServer({"DATABASE_URL": sqlite_test_url(), **live_server_env}, run_dir=test_run_dir)
    yield server
    server.stop()


@pytest.fixture
def live_server_factory(django_db_setup, test_run_dir) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(env: dict[str, str], server: str = "daphne", workers: int = 1) -> LiveServer:
        instance = LiveServer(env, server, workers, run_dir=test_run_dir)
        servers.append(instance)
        return instance

    yield start
    for instance in servers:
        instance.stop()


CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items) -> None:
    # Browser tests run last: Playwright's sync API keeps an event loop running in the main thread.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser(django_db_setup):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # With Playwright's loop running in this thread, Django would refuse the tests' own sync ORM calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def browser_log_in(page, live: LiveServer, email: str, password: str = PASSWORD) -> None:
    page.goto(live.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(live.url + "/")


class AwsSetup:
    def __init__(self, client, api_id: str) -> None:
        self.client = client
        self.api_id = api_id


@pytest.fixture
def aws(settings, monkeypatch, plans):
    """An API Gateway REST API with a stage under moto, Tollgate set to KEYS_BACKEND=aws and synced."""
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("apigateway", region_name="us-east-1")
        api_id = client.create_rest_api(name="llm")["id"]
        root = client.get_resources(restApiId=api_id)["items"][0]["id"]
        client.put_method(
            restApiId=api_id, resourceId=root, httpMethod="ANY", authorizationType="NONE", apiKeyRequired=True
        )
        client.put_integration(
            restApiId=api_id,
            resourceId=root,
            httpMethod="ANY",
            type="HTTP_PROXY",
            integrationHttpMethod="ANY",
            uri="http://llm.internal/v1",
        )
        client.create_deployment(restApiId=api_id, stageName="prod")
        settings.KEYS_BACKEND = "aws"
        settings.AWS_REGION = "us-east-1"
        settings.AWS_API_GATEWAY_API_ID = api_id
        settings.AWS_API_GATEWAY_STAGE = "prod"
        settings.AWS_API_GATEWAY_URL = f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"
        from apigateway.plans import plans_sync

        plans_sync()
        yield AwsSetup(client, api_id)


@pytest.fixture
def two_upstream_catalogue(db, plans, upstream_server, second_upstream_server):
    """A catalogue with 'first' on the first loopback upstream and 'second' on the other; the
    10RequestPerDay plan grants only 'first'."""
    from gateway.models import CatalogModel, Upstream

    upstream_server.reset()
    second_upstream_server.reset()
    one = Upstream.objects.create(name="one", base_url=upstream_server.base_url)
    two = Upstream.objects.create(name="two", base_url=second_upstream_server.base_url)
    first = CatalogModel.objects.create(name="first", upstream_model="loopback-first")
    first.upstreams.set([one])
    first.plans.set([plans["10RequestPerDay"]])
    CatalogModel.objects.create(name="second").upstreams.set([two])
    yield upstream_server, second_upstream_server
    upstream_server.reset()
    second_upstream_server.reset()


async def post_v1(key: str, body: dict, path: str = "/v1/chat/completions"):
    """POST a /v1 call to Tollgate's ASGI application in this process, with `key`."""
    import httpx

    from portal.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.post(path, headers={"x-api-key": key}, json=body)


async def chat_socket_headers(user) -> list[tuple[bytes, bytes]]:
    """Headers of a chat socket opened from the site's own page by `user`, logged in."""
    from channels.db import database_sync_to_async
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    @database_sync_to_async
    def cookie() -> bytes:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        return f"sessionid={session.session_key}".encode()

    return [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", await cookie())]
