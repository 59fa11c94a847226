"""A team's shared quota and a removal, over several processes on PostgreSQL and Redis."""

import asyncio
import time

import httpx
import pytest

from gateway.tests import test_scale_out
from gateway.tests.test_scale_out import burst, manage, shell_env

postgres_database = test_scale_out.postgres_database  # the fixture: one migrated database for the module

pytestmark = pytest.mark.services

TEAM_SETUP = """
from django.contrib.auth.models import User
from keys.models import Plan
from teams.models import Membership
from teams.services import team_create, team_key_create
Plan.objects.get_or_create(name="Team20", defaults={"requests_per_day": 20})
Plan.objects.get_or_create(name="TeamLarge", defaults={"requests_per_day": 5000})
ana = User.objects.create_user("ana@acme.test", "ana@acme.test")
ben = User.objects.create_user("ben@acme.test", "ben@acme.test")
team = team_create(owner=ana, name="Acme")
Membership.objects.create(team=team, user=ben)
keys = [team_key_create(team=team, user=u, plan_name=p)[1] for u in (ana, ben) for p in ("Team20", "TeamLarge")]
print(team.pk, ben.pk, *keys)
"""


def test_two_members_share_one_quota_and_a_removal_reaches_every_process_in_a_second(
    postgres_database, fresh_redis_url, live_server_factory, live_server_env, upstream_server
):
    upstream_server.reset()
    env = {"DATABASE_URL": postgres_database, "REDIS_URL": fresh_redis_url, **live_server_env}
    team_id, ben_id, ana20, ana_large, ben20, ben_large = manage(
        ["shell", "-v", "0", "-c", TEAM_SETUP], shell_env(env)
    ).split()[-6:]
    servers = [live_server_factory(env, server="uvicorn", workers=2), live_server_factory(env)]
    urls = [server.url for server in servers]

    # 60 calls at once, half with each member's key, over three processes: exactly the team's 20.
    statuses = asyncio.run(_both(urls, ana20, ben20))
    assert statuses.count(200) == 20 and statuses.count(429) == 40, statuses
    assert len(upstream_server.requests) == 20

    # Ben's large-plan key is in use (leased and cached) in every process; then he is removed.
    warm = asyncio.run(burst(urls, ben_large, 30))
    assert warm.count(200) == 30
    remove = (
        "import time; from django.contrib.auth.models import User; from teams.models import Team; "
        "from teams.services import member_remove; "
        f"t = Team.objects.get(pk={team_id}); member_remove(team=t, by=User.objects.get(email='ana@acme.test'), "
        f"user_id={ben_id}); print(time.time())"
    )
    removed_at = float(manage(["shell", "-v", "0", "-c", remove], shell_env(env)).split()[-1])  # committed then
    refused_at = asyncio.run(_until_refused(urls, ben_large))
    # A second (the lease's and the key cache's), and the calls' own time on a machine a full test run loads.
    assert refused_at - removed_at <= 1.0 + 0.6, refused_at - removed_at
    assert asyncio.run(burst(urls, ana_large, 6)).count(200) == 6  # the team's other keys go on


async def _both(urls: list[str], first: str, second: str) -> list[int]:
    a, b = await asyncio.gather(burst(urls, first, 30), burst(urls, second, 30))
    return a + b


async def _until_refused(urls: list[str], key: str) -> float:
    """The wall-clock time from which every process refuses the key: rounds of calls to every server
    (several each, so both of a server's workers answer) until a whole round is refused."""
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": "x"}]}
    deadline = time.time() + 5
    async with httpx.AsyncClient(timeout=10) as client:
        while time.time() < deadline:
            started = time.time()
            answers = await asyncio.gather(
                *(client.post(f"{url}/v1/chat/completions", headers={"x-api-key": key}, json=body) for url in urls * 8)
            )
            if all(answer.status_code == 401 for answer in answers):
                return started
            await asyncio.sleep(0.05)
    raise AssertionError("a process still admits a removed member's key after 5 s")
