"""Benchmark: the portal's and the admin's pages at 100,000 users on PostgreSQL.

Fills a database of its own (dropped at the end) with 100,000 users, 200,000 keys over the three seed plans
(every 10th revoked, 10,000 of them team keys of 1,000 teams), 3 million daily usage rows over 90 days,
300,000 refusal rows, 500,000 quota counters and 1 million audit events, by INSERT ... SELECT generate_series.
Then times each page in this process through Django's test Client (the full middleware and template stack,
no HTTP server): a busy user's pages and the staff's admin pages, warm, the median of several runs, with
the number of queries each ran. Last, a key's authentication (one indexed query on the prefix) with
200,000 keys and with 10, in a second small database.

    nice -n 10 .venv/bin/python bench/datascale.py [--users 100000] [--keep] [--reuse NAME]
"""

import argparse
import asyncio
import datetime
import functools
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import reachable  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-only-secret-key"
BUSY = 1  # the busy user: staff too, so one log-in reads both sides
DAYS, TEAMS, TEAM_SIZE = 90, 1000, 10
TARGET_MS = 300
LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)

# Each statement takes %(users)s, %(keys)s, %(usage)s, %(refusals)s, %(counters)s, %(events)s and
# %(plans)s (the three plan ids, an array); keys 1..users and users+1..2*users (at most) are personal keys
# of user k and k - users on the first and second plan, the last 5% are team keys on the third.
FILL = [
    (
        "users",
        """INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
           is_active, date_joined)
         SELECT g, '!', g = 1, 'user' || g || '@bench.example', '', '', 'user' || g || '@bench.example', g = 1,
                g %% 50 <> 0, now() - (g %% 2000) * interval '1 hour'
         FROM generate_series(1, %(users)s) AS g""",
    ),
    (
        "teams",
        """INSERT INTO teams_team (id, name, email_domain, created_at)
         SELECT t, 'Team ' || t, '', now() FROM generate_series(1, %(teams)s) AS t""",
    ),
    (
        "memberships",
        """INSERT INTO teams_membership (team_id, user_id, role, joined_at)
         SELECT t, (t * 90 + i) %% %(users)s + 1, CASE WHEN i = 0 THEN 'owner' ELSE 'member' END, now()
         FROM generate_series(1, %(teams)s) AS t, generate_series(0, %(team_size)s - 1) AS i""",
    ),
    (
        "keys",
        """INSERT INTO keys_apikey (id, owner_id, plan_id, team_id, label, prefix, hashed_secret, backend_id,
           created_at, revoked_at, allowed_ips, allowed_models)
         SELECT k,
                CASE WHEN team IS NULL THEN (k - 1) %% %(users)s + 1
                     ELSE (team * 90 + (j / %(teams)s)) %% %(users)s + 1 END,
                CASE WHEN team IS NOT NULL THEN (%(plans)s)[3] WHEN k <= %(users)s THEN (%(plans)s)[1]
                     ELSE (%(plans)s)[2] END,
                team, CASE WHEN k %% 3 = 0 THEN 'ci ' || k ELSE '' END, 'b' || lpad(k::text, 7, '0'), '-', '',
                now() - (k %% 2000) * interval '1 hour',
                CASE WHEN k %% 10 = 0 THEN now() - interval '1 day' END, '[]', '[]'
         FROM generate_series(1, %(keys)s) AS k
         CROSS JOIN LATERAL (SELECT k - (%(keys)s - %(keys)s / 20) - 1 AS j) AS jj
         CROSS JOIN LATERAL (SELECT CASE WHEN j >= 0 THEN j %% %(teams)s + 1 END AS team) AS tt""",
    ),
    (
        # 3M rows: 33,333 keys (spread by a prime stride) each every day, one of 20 models; oldest day first,
        # as metering writes them (a day's rows lie together on disk).
        "daily usage",
        """INSERT INTO keys_dailyusage (key_id, day, model, requests, prompt_tokens, completion_tokens, cost_nanos)
         SELECT 1 + (j * 7919) %% %(keys)s, current_date - %(days)s + 1 + g / (%(usage)s / %(days)s),
                'model-' || (j %% 20), 1 + g %% 50, 100 * (1 + g %% 50), 40 * (1 + g %% 50), 1000 * (g %% 977)
         FROM generate_series(0, %(usage)s / %(days)s * %(days)s - 1) AS g
         CROSS JOIN LATERAL (SELECT g %% (%(usage)s / %(days)s) AS j) AS jj
         WHERE 1 + (j * 7919) %% %(keys)s NOT IN (%(busy_keys)s)""",
    ),
    (
        "busy user's usage",
        """INSERT INTO keys_dailyusage (key_id, day, model, requests, prompt_tokens, completion_tokens, cost_nanos)
         SELECT k.id, current_date - d, 'model-' || m, 10 + d + m, 1000 * (1 + m), 300 * (1 + m), 50000 * (d + m)
         FROM keys_apikey AS k, generate_series(0, %(days)s - 1) AS d, generate_series(0, 4) AS m
         WHERE k.owner_id = 1 AND k.revoked_at IS NULL""",
    ),
    (
        "refusals",
        """INSERT INTO keys_refusal (key_id, day, reason, count)
         SELECT 1 + (j * 7919) %% %(keys)s, current_date - %(days)s + 1 + g / (%(refusals)s / %(days)s),
                (ARRAY['requests', 'tokens', 'throttle'])[1 + j %% 3], 1 + g %% 9
         FROM generate_series(0, %(refusals)s / %(days)s * %(days)s - 1) AS g
         CROSS JOIN LATERAL (SELECT g %% (%(refusals)s / %(days)s) AS j) AS jj""",
    ),
    (
        "quota counters",
        """INSERT INTO keys_quotacounter (owner_id, plan_id, day, used, tokens, spent_nanos)
         SELECT CASE WHEN (g / 30) %% 20 = 0 THEN -(1 + (g / 30) %% %(teams)s) ELSE 1 + (g / 30) END,
                (%(plans)s)[1 + (g / 30) %% 2], current_date - (g %% 30), 1 + g %% 9, 500 * (g %% 9), 0
         FROM generate_series(0, %(counters)s - 1) AS g
         ON CONFLICT DO NOTHING""",
    ),
    (
        # Every 100th event is the busy user's.
        "audit events",
        """INSERT INTO keys_auditevent (actor_id, actor_email, subject_id, action, target, detail, ip, created_at)
         SELECT u, 'user' || u || '@bench.example', u,
                (ARRAY['account.logged_in', 'key.created', 'key.revoked', 'account.login_failed', 'key.rotated'])
                  [1 + g %% 5],
                'b' || lpad((1 + g %% %(keys)s)::text, 7, '0'), '10RequestPerDay',
                ('192.0.2.' || (g %% 250))::inet, now() - (1 - g::float8 / %(events)s) * interval '90 days'
         FROM generate_series(1, %(events)s) AS g
         CROSS JOIN LATERAL (SELECT CASE WHEN g %% 100 = 0 THEN 1
                             ELSE 1 + (hashint8(g::bigint) & 2147483647) %% %(users)s END AS u) AS uu""",
    ),
]
SEQUENCES = {"auth_user": "id", "teams_team": "id", "keys_apikey": "id"}


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def setup_django(url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SECRET_KEY": SECRET,
            "DJANGO_DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's host, and the locmem mail backend


def fill(sizes: dict) -> str:
    """Fill the migrated database; the plaintext of a real key of the busy user (for authentication)."""
    from django.db import connection

    from keys.crypto import key_generate, key_hash
    from keys.models import ApiKey, Plan

    plans = list(Plan.objects.order_by("id").values_list("id", flat=True)[:3])
    busy_keys = [BUSY, BUSY + sizes["users"]]
    params = {**sizes, "plans": plans, "days": DAYS, "teams": TEAMS, "team_size": TEAM_SIZE}
    params["busy_keys"] = ",".join(str(k) for k in busy_keys)
    with connection.cursor() as cursor:
        for label, sql in FILL[:4]:
            _step(cursor, label, sql % {**params, "plans": "ARRAY" + str(plans)})
        for table, column in SEQUENCES.items():
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), max({column})) FROM {table}")
    # The busy user: a key of their own with a known secret on the third plan, and ten old revoked ones.
    prefix, plaintext = key_generate()
    ApiKey.objects.create(owner_id=BUSY, plan_id=plans[2], prefix=prefix, hashed_secret=key_hash(plaintext))
    for n in range(10):
        ApiKey.objects.create(
            owner_id=BUSY, plan_id=plans[n % 3], prefix=f"old{n:05d}", hashed_secret="-", revoked_at=LONG_AGO
        )
    with connection.cursor() as cursor:
        for label, sql in FILL[4:]:
            _step(cursor, label, sql % {**params, "plans": "ARRAY" + str(plans)})
        started = time.monotonic()
        cursor.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':18} {time.monotonic() - started:6.1f} s", flush=True)
    return plaintext


def _step(cursor, label: str, sql: str) -> None:
    started = time.monotonic()
    cursor.execute(sql)
    print(f"  {label:18} {cursor.rowcount:>10,} rows in {time.monotonic() - started:5.1f} s", flush=True)


def pages(sizes: dict) -> list[tuple[str, str]]:
    other = sizes["users"] // 2
    return [
        ("user: /usage/", "/usage/"),
        ("user: /keys/", "/keys/"),
        ("user: dashboard /", "/"),
        ("user: /account/activity/", "/account/activity/"),
        ("staff: /admin/usage/", "/admin/usage/"),
        ("admin: keys", "/admin/keys/apikey/"),
        ("admin: keys, search a prefix", f"/admin/keys/apikey/?q=b{other:07d}"),
        ("admin: keys, search an email", f"/admin/keys/apikey/?q=user{other}@bench.example"),
        ("admin: keys, filter plan + revoked", "/admin/keys/apikey/?plan__id__exact=2&status=revoked"),
        ("admin: users", "/admin/auth/user/"),
        ("admin: users, search an email", f"/admin/auth/user/?q=user{other}@bench.example"),
        ("admin: users, filter staff", "/admin/auth/user/?is_staff__exact=1"),
        ("admin: audit events", "/admin/accounts/auditevent/"),
        ("admin: audit events, search an email", f"/admin/accounts/auditevent/?q=user{other}@bench.example"),
        ("admin: audit events, filter action", "/admin/accounts/auditevent/?action__exact=key.rotated"),
        ("admin: daily usage", "/admin/keys/dailyusage/"),
        ("admin: daily usage, search an email", f"/admin/keys/dailyusage/?q=user{BUSY}@bench.example"),
        ("admin: daily usage, filter plan", "/admin/keys/dailyusage/?key__plan__id__exact=2"),
    ]


def counted(queries: list[str], execute, sql, *rest):
    queries.append(sql)
    return execute(sql, *rest)


def measure(sizes: dict, repeat: int) -> list[tuple[str, float, int]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(pk=BUSY))
    results = []
    for label, url in pages(sizes):
        times: list[float] = []
        queries: list[str] = []
        started = time.perf_counter()
        with connection.execute_wrapper(functools.partial(counted, queries)):
            answer = client.get(url)  # the first run warms caches and counts the queries
        first = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code}")
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            if times[-1] > 5000:  # a page this slow is measured twice, not for minutes
                break
        median = statistics.median(times)
        results.append((label, median, len(queries)))
        mark = "ok" if median < TARGET_MS else "OVER"
        print(f"  {label:44} {median:9.1f} ms {len(queries):4} queries  {mark:4} (first {first:.0f} ms)", flush=True)
    return results


def authentication(plaintext: str, repeat: int = 200) -> tuple[float, float]:
    """A key's authentication, the prefix cache forgotten each time (median ms), and its one query alone."""
    from django.db import connection

    from keys.crypto import key_parse
    from keys.metering import authenticate
    from keys.metering.keycache import key_cache_forget, key_info_load

    prefix = key_parse(plaintext).prefix

    async def through_metering() -> list[float]:
        times = []
        for _ in range(repeat):
            key_cache_forget(prefix)
            started = time.perf_counter()
            assert await authenticate(plaintext) is not None
            times.append((time.perf_counter() - started) * 1000)
        return times

    whole = statistics.median(asyncio.run(through_metering()))
    query = []
    for _ in range(repeat):
        started = time.perf_counter()
        key_info_load(prefix=prefix)
        query.append((time.perf_counter() - started) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT * FROM keys_apikey WHERE prefix = %s", [prefix])
        print("    plan: " + cursor.fetchone()[0], flush=True)
    return whole, statistics.median(query)


def small_authentication(name: str) -> str:
    """The same timing in a second database holding 10 keys, in a process of its own (the gateway's database
    thread keeps its connection to the first database)."""
    command = [sys.executable, __file__, "--authenticate-in", name]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def authenticate_in_small() -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from keys.crypto import key_generate, key_hash
    from keys.models import ApiKey, Plan

    call_command("migrate", verbosity=0)
    plan = Plan.objects.order_by("id").first()
    plaintext = ""
    for n in range(10):
        user = User.objects.create(username=f"u{n}@bench.example", email=f"u{n}@bench.example")
        prefix, plaintext = key_generate()
        ApiKey.objects.create(owner=user, plan=plan, prefix=prefix, hashed_secret=key_hash(plaintext))
    whole, query = authentication(plaintext)
    print(f"  10 keys: {whole:.2f} ms (its one query alone: {query:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate pages at 100,000 users")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its name is printed)")
    parser.add_argument("--reuse", default="", help="time a database an earlier --keep run filled (left in place)")
    parser.add_argument("--authenticate-in", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.authenticate_in:
        setup_django(f"postgres://postgres@127.0.0.1:5432/{args.authenticate_in}")
        authenticate_in_small()
        return
    if not reachable(5432):
        raise SystemExit("PostgreSQL is not answering on 127.0.0.1:5432")
    scale = args.users / 100_000
    sizes = {
        "users": args.users,
        "keys": 2 * args.users,
        "usage": int(3_000_000 * scale),
        "refusals": int(300_000 * scale),
        "counters": int(500_000 * scale),
        "events": int(1_000_000 * scale),
    }
    name = args.reuse or f"tollgate_datascale_{uuid.uuid4().hex[:10]}"
    small = f"tollgate_datascale_small_{uuid.uuid4().hex[:10]}"
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    if not args.reuse:
        admin_sql(f'CREATE DATABASE "{name}"')
    admin_sql(f'CREATE DATABASE "{small}"')
    try:
        setup_django(url)
        from django.core.management import call_command

        from keys.models import ApiKey

        call_command("migrate", verbosity=0)  # a no-op on a reused database, unless new migrations came
        if args.reuse:
            from keys.crypto import key_generate, key_hash

            prefix, plaintext = key_generate()  # the busy user's first key gets a known secret, for authentication
            ApiKey.objects.filter(pk=BUSY).update(prefix=prefix, hashed_secret=key_hash(plaintext))
            from usage.models import UsageDaySummary, UsageOwnerWindow

            for summary in (UsageDaySummary, UsageOwnerWindow):  # the overview's first visit sums them again
                summary.objects.all().delete()
        else:
            print(f"Filling {name} ...", flush=True)
            started = time.monotonic()
            plaintext = fill(sizes)
            print(f"  filled in {time.monotonic() - started:.0f} s", flush=True)
        keys = ApiKey.objects.count()
        from gateway.overview import overview_warm

        started = time.monotonic()
        overview_warm()  # what the hourly upkeep does in every serving process, before staff's first visit
        print(f"\nThe hourly upkeep summed the overview's closed days in {time.monotonic() - started:.1f} s")
        print(f"\nPages (Django test Client, warm, median of up to {args.repeat} runs, target {TARGET_MS} ms):")
        measure(sizes, args.repeat)
        print("\nA key's authentication (keys.metering.authenticate, the prefix cache forgotten each time):")
        big = authentication(plaintext)
        print(f"  {keys:,} keys: {big[0]:.2f} ms (its one query alone: {big[1]:.2f} ms)", flush=True)
        print(small_authentication(small))
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{small}" WITH (FORCE)')
        if args.keep or args.reuse:
            print(f"kept {name}")
        else:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
