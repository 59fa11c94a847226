"""Benchmark: the request log at ten million rows on PostgreSQL, read through the real pages and API.

Fills a database of its own (dropped at the end) with 10M rows over 30 days, 1,000 users and 50 models, one
user holding a million of them, then times under daphne: the first page, a filtered page (one key, one
model, a week), the 1,000th page by cursor, a request-id search, the staff admin's first page, and a CSV
export of the big user's million rows with the server's peak memory. Prints EXPLAIN for each query.

    .venv/bin/python bench/requestlog.py [--rows 10000000] [--keep]
"""

import argparse
import datetime
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, reachable, start, wait_for  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
USERS, MODELS, DAYS, BIG_USER = 1000, 50, 30, 1
SECRET = "bench-only-secret-key"

# Every 10th row is the big user's (a million at 10M); the rest are spread over the other 999 by a hash.
FILL_SQL = """
INSERT INTO requestlog_request (time, request_id, user_id, team_id, key_prefix, endpoint, model, upstream,
  status, refusal, stream, latency_ms, ttfb_ms, prompt_tokens, completion_tokens, cost, client_ip)
SELECT %(end)s::timestamptz - (g::float8 / %(rows)s) * interval '30 days',
       'req-' || g,
       u.id,
       NULL,
       'tg-u' || lpad(u.id::text, 4, '0') || 'k' || (g %% 3),
       CASE WHEN g %% 7 = 0 THEN '/v1/embeddings' ELSE '/v1/chat/completions' END,
       'model-' || ((hashint4(g::int) & 2147483647) %% 50),
       'upstream-' || (g %% 3),
       CASE WHEN g %% 20 = 0 THEN 429 ELSE 200 END,
       CASE WHEN g %% 20 = 0 THEN 'requests' ELSE '' END,
       g %% 3 = 0,
       50 + g %% 2000,
       10 + g %% 400,
       g %% 700,
       g %% 300,
       0,
       ('192.0.2.' || (g %% 250))::inet
FROM generate_series(%(first)s, %(last)s) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g %% 10 = 0 THEN %(big)s
                    ELSE 2 + (hashint8(g::bigint) & 2147483647) %% (%(users)s - 1) END AS id) AS u
"""


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def setup_django(url: str) -> None:
    os.environ.update({"DATABASE_URL": url, "DJANGO_SECRET_KEY": SECRET, "DJANGO_SETTINGS_MODULE": "portal.settings"})
    import django

    django.setup()


def fill(rows: int, end: datetime.datetime) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from keys.models import ApiKey, Plan
    from requestlog.storage import partitions_ensure

    User.objects.bulk_create(
        [User(id=n, username=f"user{n}@bench.example", email=f"user{n}@bench.example") for n in range(1, USERS + 1)]
    )
    User.objects.filter(id=BIG_USER).update(is_staff=True, is_superuser=True)
    plans = [Plan.objects.get_or_create(name=f"Bench{n}", defaults={"requests_per_day": 10**9})[0] for n in range(3)]
    # The big user's keys exist, as the key filter checks (the rows name them as tg-u0001k0 .. k2).
    ApiKey.objects.bulk_create(
        [ApiKey(owner_id=BIG_USER, plan=plans[n], prefix=f"u{BIG_USER:04d}k{n}", hashed_secret="-") for n in range(3)]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('auth_user_id_seq', %s)", [USERS + 1])
    partitions_ensure(end.date() - datetime.timedelta(days=n) for n in range(DAYS + 1))
    step = 1_000_000
    for first in range(1, rows + 1, step):
        started = time.monotonic()
        with connection.cursor() as cursor:
            params = {"end": end, "rows": rows, "first": first, "last": min(first + step - 1, rows)}
            cursor.execute(FILL_SQL, {**params, "big": BIG_USER, "users": USERS})
        print(f"  rows {first:>10,} .. {params['last']:>10,} in {time.monotonic() - started:5.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE requestlog_request")


def session_cookie(user_id: int) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.get(pk=user_id)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def timed(client, url: str, repeat: int = 7) -> tuple[float, float, dict | None]:
    """Cold time, warm median (ms), and the JSON body of the last answer."""
    times, body = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
        body = answer.json() if "json" in answer.headers.get("content-type", "") else None
    return times[0], statistics.median(times[1:]), body


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def explain(label: str, rows, cursor=None) -> None:
    from django.db import connection

    from requestlog.selectors import PUBLIC_FIELDS

    if cursor is not None:
        from django.db.models import Q

        rows = rows.filter(time__lte=cursor.time).filter(Q(time__lt=cursor.time) | Q(id__lt=cursor.id))
    sql, params = rows.values("id", *PUBLIC_FIELDS)[:51].query.sql_with_params()
    with connection.cursor() as db:
        db.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + sql, params)
        plan = [line for (line,) in db.fetchall()]
    nodes = [line.strip() for line in plan if "Scan" in line or "Sort" in line or "Execution" in line]
    print(f"\nEXPLAIN {label}:\n    " + "\n    ".join(nodes[:6] + (["..."] if len(nodes) > 7 else []) + nodes[-1:]))


def measure(url: str, port: int, server_pid: int, end: datetime.datetime, total: int) -> None:
    import httpx

    from requestlog.forms import Cursor
    from requestlog.selectors import request_filter

    base = f"http://127.0.0.1:{port}"
    week = (end - datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S")
    until = end.strftime("%Y-%m-%dT%H:%M:%S")
    key, model = f"tg-u{BIG_USER:04d}k1", "model-7"
    typical = 500
    results = []
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with (
        httpx.Client(base_url=base, cookies={"sessionid": session_cookie(BIG_USER)}, timeout=600) as big,
        httpx.Client(base_url=base, cookies={"sessionid": session_cookie(typical)}, timeout=60) as small,
    ):
        small.get("/api/v1/requests/?limit=1")  # warm the server's first request
        results.append(("first page, a user with ~9k rows", *timed(small, "/api/v1/requests/?limit=50")[:2]))
        results.append(("first page, the user with 1M rows", *timed(big, "/api/v1/requests/?limit=50")[:2]))
        filtered = f"/api/v1/requests/?limit=50&key={key}&model={model}&since={week}&until={until}"
        cold, warm, body = timed(big, filtered)
        results.append(("filtered page (key, model, a week), 1M-row user", cold, warm))
        assert body["results"] and all(r["model"] == model and r["key_prefix"] == key for r in body["results"])
        url_now, pages, walked = "/api/v1/requests/?limit=50", 1, time.perf_counter()
        while pages < 1000:
            following = big.get(url_now).json()["next"]
            if following is None:
                break
            url_now, pages = following.removeprefix(base), pages + 1
        walked = (time.perf_counter() - walked) * 1000 / max(pages - 1, 1)
        results.append(
            (f"page {pages:,} by cursor (rows {50 * pages - 49:,}-{50 * pages:,})", *timed(big, url_now)[:2])
        )
        results.append((f"  (pages 1-{pages - 1:,} walked, mean per page)", walked, walked))
        any_id = "req-4567890"  # a row of the big user (every 10th)
        cold, warm, body = timed(big, f"/api/v1/requests/?request_id={any_id}")
        results.append(("request-id search (own rows)", cold, warm))
        admin_cold, admin_warm, _ = timed(big, "/admin/requestlog/requestlog/", repeat=5)
        results.append((f"staff: admin list, first page ({total:,} rows)", admin_cold, admin_warm))
        admin_cold, admin_warm, _ = timed(big, f"/admin/requestlog/requestlog/?q={any_id}", repeat=5)
        results.append(("staff: admin request-id search", admin_cold, admin_warm))
        before = peak_rss_mb(server_pid)
        started, size, lines = time.perf_counter(), 0, 0
        with big.stream("GET", "/usage/requests.csv") as answer:
            for chunk in answer.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        csv_seconds = time.perf_counter() - started
        after = peak_rss_mb(server_pid)
    print(f"\n{'what':52} {'cold ms':>9} {'warm ms':>9}")
    for label, cold, warm in results:
        print(f"{label:52} {cold:9.1f} {warm:9.1f}")
    print(
        f"\nCSV export of the 1M-row user: {lines - 1:,} rows, {size / 1e6:.0f} MB in {csv_seconds:.1f} s; "
        f"server peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )
    explain("first page (user)", request_filter(user_id=typical))
    explain(
        "filtered page", request_filter(user_id=BIG_USER, key=key, model=model, since=end - datetime.timedelta(days=7))
    )
    page_1000 = Cursor(*big_cursor_after(50 * (pages - 1)))
    explain("1,000th page by cursor", request_filter(user_id=BIG_USER), cursor=page_1000)
    explain("request-id search", request_filter(user_id=BIG_USER, request_id=any_id))
    explain("staff first page", request_filter(user_id=None))


def big_cursor_after(offset: int) -> tuple:
    from requestlog.models import RequestLog

    row = RequestLog.objects.filter(user_id=BIG_USER).order_by("-time", "-id").values_list("time", "id")[offset - 1]
    return row


def reused_end() -> datetime.datetime:
    from django.db.models import Max

    from requestlog.models import RequestLog

    return RequestLog.objects.aggregate(end=Max("time"))["end"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate request log benchmark")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its name is printed)")
    parser.add_argument("--reuse", default="", help="time a database an earlier --keep run filled (left in place)")
    args = parser.parse_args()
    if not reachable(5432):
        raise SystemExit("PostgreSQL is not answering on 127.0.0.1:5432")
    name = args.reuse or f"tollgate_reqlog_bench_{uuid.uuid4().hex[:10]}"
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    if not args.reuse:
        admin_sql(f'CREATE DATABASE "{name}"')
    server = None
    try:
        setup_django(url)
        from django.core.management import call_command

        if args.reuse:
            end = reused_end()
        else:
            call_command("migrate", verbosity=0)
            end = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            print(f"Filling {args.rows:,} rows into {name} ...", flush=True)
            started = time.monotonic()
            fill(args.rows, end)
            print(f"  filled and analysed in {time.monotonic() - started:.0f} s", flush=True)
        port = free_port()
        env = {"DATABASE_URL": url, "DJANGO_SECRET_KEY": SECRET, "DJANGO_DEBUG": "0"}
        server = start(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"], env
        )
        wait_for(port, "/healthz")
        measure(url, port, server.pid, end, args.rows)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        from django.db import connections

        connections.close_all()
        if args.keep or args.reuse:
            print(f"kept {name}")
        else:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
