"""A process killed with -9 loses nothing for good: its spool is replayed by a live process."""

import asyncio
import datetime
import os
import signal
import time

import psycopg
import pytest

from gateway.tests.test_scale_out import burst, make_key, shell_env
from keys.metering import spool as spool_module
from keys.metering.spool import lease_line, refusal_line, spools_recover, usage_line
from keys.models import DailyUsage, QuotaCounter, Refusal, SpoolMark
from testsupport import services


def _dead_spool(folder, lines: list[str], partial: str = "") -> str:
    """A spool file as a killed process leaves it: not locked by anyone, maybe a line cut short."""
    path = folder / "spool-somehost-99999-deadbeef.log"
    path.write_text("".join(line + "\n" for line in lines) + partial)
    return path.name


@pytest.mark.django_db(transaction=True)
def test_a_dead_spool_is_replayed_once_from_its_mark(user, key_factory, settings, tmp_path):
    settings.TOLLGATE_SPOOL_DIR = str(tmp_path)
    key, _ = key_factory(user, "10RequestPerDay")
    from keys.metering import key_load
    from keys.metering.types import utc_today

    info = asyncio.run(key_load(key.pk))
    today = utc_today()
    QuotaCounter.objects.create(owner_id=user.pk, plan_id=key.plan_id, day=today, used=9)
    written = [usage_line(key.pk, today, "m", 1, 5, 7, 0)]  # before the mark: already in the statistics
    name = _dead_spool(
        tmp_path,
        [
            *written,
            lease_line(info, today, 6, 0, 0),  # a lease of 6 more, of which 2 were spent
            f"D\t{key.pk}\t{today}\t{key.plan_id}\t-1\t0\t0",
            usage_line(key.pk, today, "m", 1, 3, 4, 0),
            f"D\t{key.pk}\t{today}\t{key.plan_id}\t-1\t0\t0",
            usage_line(key.pk, today, "m", 1, 2, 2, 0),
            refusal_line(key.pk, today, "requests", 1),
            f"A\t1\t{key.pk}\t{today}\tm",  # answered: its usage line names it
            usage_line(key.pk, today, "m", 1, 1, 1, 0) + "\t1",
            f"A\t2\t{key.pk}\t{today}\tm",  # refunded
            "Z\t2",
            f"A\t3\t{key.pk}\t{today}\tm",  # in flight when the process died: counted, no tokens known
        ],
        partial="U\t" + str(key.pk),  # the kill cut this line: it is not counted
    )
    SpoolMark.objects.create(name=name, offset=len(written[0]) + 1)
    assert spools_recover() == 1
    row = DailyUsage.objects.get(key=key)
    assert (row.requests, row.prompt_tokens, row.completion_tokens) == (4, 6, 7)
    assert Refusal.objects.get(key=key).count == 1
    assert QuotaCounter.objects.get(owner_id=user.pk).used == 9 - 4  # the lease's 4 unspent came back
    assert not list(tmp_path.glob("spool-*")) and not SpoolMark.objects.exists()
    assert spools_recover() == 0  # nothing twice


@pytest.mark.django_db(transaction=True)
def test_a_live_processs_spool_is_left_alone(settings, tmp_path):
    import fcntl

    settings.TOLLGATE_SPOOL_DIR = str(tmp_path)
    path = tmp_path / "spool-host-1-aa.log"
    path.write_text("U\t1\t2026-01-01\tm\t1\t1\t0\t1\n")
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a living process holds its own
    try:
        assert spools_recover() == 0 and path.exists()
    finally:
        os.close(fd)


@pytest.fixture
def postgres_database(test_postgres_url):
    from gateway.tests.test_scale_out import manage

    try:
        with services.postgres_database(test_postgres_url) as url:
            manage(["migrate", "--noinput", "-v0"], {"DATABASE_URL": url})
            yield url
    except services.ServiceUnavailable as exc:
        pytest.skip(str(exc))


async def _killed_during_slow_calls(victim, key: str, count: int) -> int:
    """Start `count` calls the upstream answers slowly, and kill the server with -9 while they wait (and
    within its second: unwritten statistics and an open lease). How many failed with the kill."""
    import httpx

    body = {"model": "slow-3000", "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient(timeout=30) as client:
        calls = [
            asyncio.ensure_future(
                client.post(f"{victim.url}/v1/chat/completions", headers={"x-api-key": key}, json=body)
            )
            for _ in range(count)
        ]
        await asyncio.sleep(0.8)  # admitted, waiting on the upstream
        os.kill(victim.process.pid, signal.SIGKILL)
        results = await asyncio.gather(*calls, return_exceptions=True)
    return sum(isinstance(result, Exception) for result in results)


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        requests = conn.execute("SELECT coalesce(sum(requests), 0) FROM keys_dailyusage").fetchone()[0]
        used = conn.execute("SELECT coalesce(sum(used), 0) FROM keys_quotacounter").fetchone()[0]
    return int(requests), int(used)


@pytest.mark.services
def test_a_worker_killed_with_minus_9_loses_neither_statistics_nor_its_lease(
    postgres_database, live_server_factory, live_server_env, upstream_server, tmp_path
):
    upstream_server.reset()
    env = {"DATABASE_URL": postgres_database, "TOLLGATE_SPOOL_DIR": str(tmp_path), **live_server_env}
    key = make_key("killed@example.com", shell_env(env), "Large", 1000)
    victim, survivor = live_server_factory(env), live_server_factory(env)

    answered = asyncio.run(burst([victim.url], key, 150)).count(200)
    in_flight = asyncio.run(_killed_during_slow_calls(victim, key, 3))  # admitted, never answered
    assert in_flight == 3
    victim.process.wait()
    answered += in_flight  # the quota counted them; so must the statistics
    requests, used = _counts(postgres_database)
    assert requests < answered or used > answered, "nothing was pending when it died: the test proves nothing"

    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        answered += asyncio.run(burst([survivor.url], key, 2)).count(200)  # a live process replays as it works
        time.sleep(1.5)  # its own lease ends and comes back
        if _counts(postgres_database) == (answered, answered):
            break
    assert _counts(postgres_database) == (answered, answered)
    assert not list(tmp_path.glob(f"spool-*-{victim.process.pid}-*"))  # replayed, then deleted
    assert list(tmp_path.glob("spool-*")), "the servers spooled elsewhere: TOLLGATE_SPOOL_DIR was not read"
    assert len(upstream_server.requests) == answered
    upstream_server.reset()


def test_a_long_spool_is_rotated_keeping_what_it_still_owes(settings, tmp_path, monkeypatch):
    from keys.metering.leases import Leases
    from keys.metering.spool import Spool
    from keys.metering.usage import UsageRecorder

    settings.TOLLGATE_SPOOL_DIR = str(tmp_path)
    monkeypatch.setattr(spool_module, "ROTATE_BYTES", 100)
    spool, usage, leases = Spool(), UsageRecorder(), Leases()
    day = datetime.date(2026, 12, 3)
    for _ in range(5):
        spool.usage(7, day, "m", 1, 2, 0)
    usage._pending[(7, day, "m")] = [2, 2, 4, 0]  # two of the five are not written yet
    old = spool.path
    spool.rotate_if_long(leases, usage)
    assert not old.exists() and spool.path.exists() and spool.path != old
    assert spool.path.read_text() == usage_line(7, day, "m", 2, 2, 4, 0) + "\n"
    spool.usage(7, day, "m", 1, 1, 0)
    assert spool.path.read_text().count("\n") == 2
    os.close(spool.fd)
