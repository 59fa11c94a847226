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

    # At most 200 in flight: far past any lease block, and within what a loaded machine's sockets take
    # (all 1,150 at once have dropped connections under a full test run).
    gate = asyncio.Semaphore(200)

    async def one(index: int) -> int:
        async with gate:
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


def priced(env: dict[str, str], upstream_url: str, plan: str, prices: dict, **limits) -> None:
    """The loopback model in the catalogue with `prices` (the others free), and `plan` with `limits`."""
    fields = ("price_input_per_million", "price_output_per_million", "price_per_request")
    prices = {**dict.fromkeys(fields), **prices}
    code = (
        "from gateway.models import CatalogModel, Upstream; from keys.models import Plan; "
        f"u, _ = Upstream.objects.get_or_create(name='loop', defaults={{'base_url': {upstream_url!r}}}); "
        f"m, _ = CatalogModel.objects.update_or_create(name='loopback-model', defaults={prices!r}); "
        "m.upstreams.set([u]); "
        f"Plan.objects.filter(name={plan!r}).update(**{limits!r})"
    )
    manage(["shell", "-v", "0", "-c", code], env)


def period_counter(env: dict[str, str], plan: str, expected: tuple | None = None) -> tuple[int, int, int]:
    """The plan's QuotaCounter: requests, tokens and spent nanos. Settlements land just after the answers,
    and the Redis journal writes within a second: wait up to 10 s for `expected`, then say what is there."""
    code = (
        "from keys.models import QuotaCounter; "
        f"row = QuotaCounter.objects.filter(plan__name={plan!r}).values_list('used', 'tokens', 'spent_nanos').first(); "
        "print(*(row or (0, 0, 0)))"  # the journal writes the row within a second: maybe not yet
    )
    deadline = time.monotonic() + 10
    while True:
        found = tuple(int(n) for n in manage(["shell", "-v", "0", "-c", code], env).split())
        if expected is None or found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


async def calls(urls: list[str], key: str, total: int, **extra) -> list[tuple[int, str]]:
    """`total` chat calls at once, spread over `urls`: each call's status and, refused, its error type."""
    clients = [openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60) for url in urls]

    async def one(index: int) -> tuple[int, str]:
        try:
            await clients[index % len(clients)].chat.completions.create(
                model="loopback-model", messages=[{"role": "user", "content": "x"}], **extra
            )
            return 200, ""
        except openai.APIStatusError as exc:
            return exc.status_code, (exc.body or {}).get("type", "")

    return await asyncio.gather(*(one(i) for i in range(total)))


@pytest.fixture
def four_processes(postgres_database, redis_url, live_server_factory, live_server_env, upstream_server, request):
    """Three uvicorn workers and a daphne process on one PostgreSQL database and, if asked, one Redis."""

    def start(with_redis: bool) -> tuple[dict[str, str], list[str]]:
        upstream_server.reset()
        env = {"DATABASE_URL": postgres_database, "UPSTREAM_ALLOW_PRIVATE": "1", **live_server_env}
        if with_redis:
            env["REDIS_URL"] = redis_url
        servers = [live_server_factory(env, server="uvicorn", workers=3), live_server_factory(env)]
        return env, [server.url for server in servers]

    return start


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-counters", "postgres-counters"])
def test_budgets_and_token_limits_hold_over_four_processes(four_processes, upstream_server, with_redis):
    """The same four processes (starting them is most of the time) go through three plans in turn."""
    env, urls = four_processes(with_redis)
    for scenario in (cents_budget, token_prices, fifty_tokens):
        upstream_server.reset()
        scenario(env, urls, upstream_server, with_redis)


def cents_budget(env: dict[str, str], urls: list[str], upstream_server, with_redis: bool) -> None:
    """A twenty-cent budget at a cent a call admits exactly 20 of 60 calls at once."""
    plan = f"Cents{with_redis}"
    key = make_key(f"cents-{with_redis}@example.com", shell_env(env), plan, 1000)
    priced(shell_env(env), upstream_server.base_url, plan, {"price_per_request": "0.01"}, budget="0.20")
    results = asyncio.run(calls(urls, key, 60))
    assert [r for r in results if r[0] == 200] == [(200, "")] * 20
    assert [r for r in results if r[0] != 200] == [(429, "budget")] * 40
    assert len(upstream_server.requests) == 20
    expected = (20, 20 * 13, 200_000_000)  # exactly 0.20
    assert period_counter(shell_env(env), plan, expected) == expected


def token_prices(env: dict[str, str], urls: list[str], upstream_server, with_redis: bool) -> None:
    """With token prices, spend is the sum of the real costs and never passes the budget. Each call
    reserves its most (9 prompt tokens by the bound, 20 by max_tokens: 20,900,000 nanos at these
    prices) and settles to what it cost (1 prompt and 12 completion tokens: 12,100,000)."""
    plan = f"Tokens{with_redis}"
    key = make_key(f"priced-{with_redis}@example.com", shell_env(env), plan, 1000)
    prices = {"price_input_per_million": "100", "price_output_per_million": "1000"}
    priced(shell_env(env), upstream_server.base_url, plan, prices, budget="0.20")
    admitted = 0
    for _ in range(4):  # until settled spend leaves too little for one more reservation
        results = asyncio.run(calls(urls, key, 12, max_tokens=20))
        admitted += sum(status == 200 for status, _ in results)
        assert {kind for status, kind in results if status != 200} <= {"budget"}
        expected = (admitted, admitted * 13, admitted * 12_100_000)
        assert period_counter(shell_env(env), plan, expected) == expected
    assert admitted == 15 and 15 * 12_100_000 <= 200_000_000  # a 16th might cost 0.0209; 0.0185 is left
    assert len(upstream_server.requests) == admitted


def fifty_tokens(env: dict[str, str], urls: list[str], upstream_server, with_redis: bool) -> None:
    """Forty calls at once never pass a fifty-token limit."""
    plan = f"Fifty{with_redis}"
    key = make_key(f"fifty-{with_redis}@example.com", shell_env(env), plan, 1000)
    priced(shell_env(env), upstream_server.base_url, plan, {}, tokens_per_day=50)
    results = asyncio.run(calls(urls, key, 40, max_tokens=5))  # each reserves 9 + 5 and takes 13
    admitted = sum(status == 200 for status, _ in results)
    assert 1 <= admitted <= 3 and {kind for status, kind in results if status != 200} == {"tokens"}
    _, tokens, _ = period_counter(shell_env(env), plan, (admitted, 13 * admitted, 0))
    assert tokens == 13 * admitted <= 50
    assert len(upstream_server.requests) == admitted
