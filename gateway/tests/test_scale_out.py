"""Several worker processes on PostgreSQL and Redis still admit exactly the quota."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from testsupport import services

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres_database(test_postgres_url):
    """One database for the module's tests (migrating it takes a while), made for them and dropped after."""
    try:
        with services.postgres_database(test_postgres_url) as url:
            manage(["migrate", "--noinput", "-v0"], {"DATABASE_URL": url})
            yield url
    except services.ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def redis_url(fresh_redis_url):
    return fresh_redis_url


def manage(args: list[str], env: dict[str, str]) -> str:
    """manage.py on the env's DATABASE_URL."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def shell_env(env: dict[str, str]) -> dict[str, str]:
    """What a manage.py command needs of a live server's env: its database and Redis."""
    return {"DATABASE_URL": env["DATABASE_URL"], "REDIS_URL": env.get("REDIS_URL", "")}


def make_key(email: str, env: dict[str, str], plan: str = "20RequestPerDay", limit: int = 20) -> str:
    code = (
        "from django.contrib.auth.models import User; from keys.services import key_create; "
        "from keys.models import Plan; "
        f"Plan.objects.get_or_create(name={plan!r}, defaults={{'requests_per_day': {limit}}}); "
        f"u = User.objects.create_user({email!r}, {email!r}); "
        f"print(key_create(owner=u, plan_name={plan!r})[1])"
    )
    return manage(["shell", "-v", "0", "-c", code], env).strip().splitlines()[-1]


async def burst(urls: list[str], key: str, total: int) -> list[int]:
    # 1,150 connections at once overflow the listen backlog on a busy machine: SYN retries take seconds.
    clients = [openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60) for url in urls]

    async def one(index: int) -> int:
        try:
            await clients[index % len(clients)].chat.completions.create(
                model="loopback-model", messages=[{"role": "user", "content": "x"}]
            )
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    return await asyncio.gather(*(one(i) for i in range(total)))


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-counters", "postgres-counters"])
def test_sixty_requests_over_five_processes_admit_exactly_twenty(
    postgres_database, redis_url, live_server_factory, live_server_env, upstream_server, with_redis
):
    upstream_server.reset()
    env = {"DATABASE_URL": postgres_database, **live_server_env}
    if with_redis:
        env["REDIS_URL"] = redis_url
    key = make_key(f"scale-{with_redis}@example.com", shell_env(env))
    workers = live_server_factory(env, server="uvicorn", workers=4)
    daphne = live_server_factory(env)
    statuses = asyncio.run(burst([workers.url, daphne.url], key, 60))
    assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses
    assert len(upstream_server.requests) == 20
    if with_redis:
        import redis

        counters = [k for k in redis.Redis.from_url(redis_url).keys("tollgate:quota:*")]
        assert len(counters) == 1 and int(redis.Redis.from_url(redis_url).get(counters[0])) == 20
    upstream_server.reset()


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-counters", "postgres-counters"])
def test_leases_over_three_processes_admit_exactly_a_large_plans_limit(
    postgres_database, redis_url, live_server_factory, live_server_env, upstream_server, with_redis
):
    """A 1,000-a-day plan is spent from leases over three processes: never past 1,000, and all of it
    once the leases have ended."""
    upstream_server.reset()
    env = {"DATABASE_URL": postgres_database, **live_server_env}
    if with_redis:
        env["REDIS_URL"] = redis_url
    key = make_key(f"lease-{with_redis}@example.com", shell_env(env), "Large", 1000)
    workers = live_server_factory(env, server="uvicorn", workers=2)
    daphne = live_server_factory(env)
    statuses = asyncio.run(burst([workers.url, daphne.url], key, 1150))
    assert set(statuses) == {200, 429} and 990 <= statuses.count(200) <= 1000
    time.sleep(1.5)  # leases end and hand back what they did not spend
    later = asyncio.run(burst([workers.url, daphne.url], key, 60))
    assert statuses.count(200) + later.count(200) == 1000
    assert len(upstream_server.requests) == 1000
    upstream_server.reset()


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-counters", "postgres-counters"])
def test_once_the_recorded_tokens_reach_the_limit_no_process_admits_more(
    postgres_database, redis_url, live_server_factory, live_server_env, upstream_server, with_redis
):
    upstream_server.reset()
    env = {"DATABASE_URL": postgres_database, **live_server_env}
    if with_redis:
        env["REDIS_URL"] = redis_url
    email = f"tokens-{with_redis}@example.com"
    key = make_key(email, shell_env(env), f"Tokens{with_redis}", 1000)
    manage(
        [
            "shell",
            "-v",
            "0",
            "-c",
            f"from keys.models import Plan; Plan.objects.filter(name='Tokens{with_redis}').update(tokens_per_day=40)",
        ],
        shell_env(env),
    )
    servers = [live_server_factory(env, server="uvicorn", workers=2), live_server_factory(env)]
    for index in range(4):  # 13 tokens each (1 asked, 12 answered): 13, 26, 39 < 40, then 52
        assert asyncio.run(burst([servers[index % 2].url], key, 1)) == [200]
        time.sleep(1.3)  # recorded within a second
    statuses = asyncio.run(burst([s.url for s in servers], key, 30))
    assert statuses == [429] * 30
    assert len(upstream_server.requests) == 4
    upstream_server.reset()
