"""Faults against real servers the tests start themselves: a database restart and Redis lost mid-traffic.

After each: no 500, no admission past a limit, and the counters and statistics agree with what
clients received.
"""

import asyncio
import threading
import time

import httpx
import psycopg
import pytest

from gateway.tests.test_scale_out import make_key, manage

pytestmark = pytest.mark.services
CHAT = {"model": "loopback-model", "messages": [{"role": "user", "content": "one two"}]}


async def calls(
    url: str, key: str, count: int, concurrency: int = 4, pause: float = 0.0, model: str = "loopback-model"
) -> list[int]:
    statuses: list[int] = []
    queue = list(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            try:
                body = {**CHAT, "model": model}
                response = await client.post("/v1/chat/completions", json=body, headers={"x-api-key": key})
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)  # no answer at all
            await asyncio.sleep(pause)

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return statuses


def query(url: str, sql: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchone()[0] or 0


def test_a_database_restart_mid_traffic_answers_503_and_loses_nothing(
    postgres_server, live_server_factory, live_server_env, upstream_server
):
    upstream_server.reset()
    database = postgres_server.url("postgres")
    env = {"DATABASE_URL": database, **live_server_env}
    manage(["migrate", "--noinput", "-v0"], {"DATABASE_URL": database})
    key = make_key("restart@example.com", {"DATABASE_URL": database}, "Thirty", 30)
    server = live_server_factory(env)

    def restart() -> None:
        time.sleep(1.0)
        postgres_server.stop()
        time.sleep(3.0)
        postgres_server.start()

    fault = threading.Thread(target=restart)
    fault.start()
    statuses = asyncio.run(calls(server.url, key, 120, pause=0.1))
    fault.join()
    back = asyncio.run(calls(server.url, key, 40))
    assert set(back) <= {200, 429}, f"not one 503 once the database is back: {back}"
    statuses += back
    assert 500 not in statuses and 0 not in statuses, statuses
    assert set(statuses) <= {200, 429, 503} and 503 in statuses, "the outage was met and answered 503"
    assert statuses.count(200) == 30, "the whole day was admitted, and no more"
    assert len(upstream_server.requests) == 30
    time.sleep(2.5)  # statistics kept through the outage are written once the database is back
    assert query(database, "SELECT sum(used) FROM keys_quotacounter") == 30
    assert query(database, "SELECT sum(requests) FROM keys_dailyusage") == 30
    upstream_server.reset()


def test_redis_lost_and_back_empty_does_not_refill_the_day(
    fresh_postgres_database, redis_server, live_server_factory, live_server_env, upstream_server
):
    upstream_server.reset()
    env = {"DATABASE_URL": fresh_postgres_database, "REDIS_URL": redis_server.url, **live_server_env}
    manage(["migrate", "--noinput", "-v0"], {"DATABASE_URL": fresh_postgres_database})
    key = make_key("redis-lost@example.com", {"DATABASE_URL": fresh_postgres_database}, "Thirty", 30)
    workers = live_server_factory(env, server="uvicorn", workers=2)
    assert asyncio.run(calls(workers.url, key, 10)) == [200] * 10
    in_flight: list[int] = []
    slow = threading.Thread(
        target=lambda: in_flight.extend(asyncio.run(calls(workers.url, key, 10, concurrency=10, model="slow-6000")))
    )
    slow.start()  # admitted now, answered after Redis is back: nothing recorded them yet but their admission
    time.sleep(2.0)  # the admissions reach the database's write-ahead within a second
    redis_server.stop()
    during = asyncio.run(calls(workers.url, key, 6))
    assert set(during) == {503}, during
    redis_server.start()  # empty
    after = asyncio.run(calls(workers.url, key, 30))
    slow.join()
    assert in_flight == [200] * 10
    assert set(after) <= {200, 429}, f"no 500, and not one 503 once Redis is back: {after}"
    assert after.count(200) == 10, "30 a day: the 10 answered and the 10 in flight when Redis was lost still count"
    assert len(upstream_server.requests) == 30
    upstream_server.reset()
