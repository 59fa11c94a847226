"""On PostgreSQL: the table is partitioned by day, rows arrive by COPY, pruning drops whole partitions,
and the reading queries use the indexes. Runs against a database of its own, made and dropped here."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import service_reachable

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not service_reachable(5432), reason="no PostgreSQL on 127.0.0.1:5432"),
]


def _admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module")
def pg_url():
    """A PostgreSQL database of this module's own, migrated, dropped afterwards."""
    name = f"tollgate_reqlog_{uuid.uuid4().hex[:12]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    try:
        _manage(url, "migrate", "--noinput", "-v0")
        yield url
    finally:
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(url: str, *args: str, env: dict | None = None) -> str:
    full_env = {**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "pg-test", **(env or {})}
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _run(url: str, code: str, env: dict | None = None):
    """Run `code` in a Django shell on the database; it prints one JSON value as its last line."""
    return json.loads(_manage(url, "shell", "-v", "0", "-c", code, env=env).strip().splitlines()[-1])


def _sql(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return conn.execute(sql).fetchall()


NOTE_ROWS = """
import json, time
from decimal import Decimal
from requestlog import request_log_note
from requestlog.writer import request_log_flush
now = time.time()
for days in (0, 0, 1, 5, 29, 31, 40):
    request_log_note(request_id=f"pg-{days}-{time.monotonic_ns()}", user_id=7, key_prefix="tg-PGPGPGPG",
        endpoint="/v1/chat/completions", model="pg-model", upstream="up", status=200, refusal="", stream=True,
        latency_ms=10, ttfb_ms=3, prompt_tokens=5, completion_tokens=6, cost=Decimal("0.25"),
        client_ip="192.0.2.1", started=now - days * 86400)
print(json.dumps(request_log_flush()))
"""


def test_rows_are_copied_into_day_partitions_made_on_demand(pg_url):
    assert _sql(pg_url, "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                        "WHERE c.relname = 'requestlog_request'") == [("r",)]  # fmt: skip
    assert _run(pg_url, NOTE_ROWS) == 7
    (count,) = _sql(pg_url, "SELECT count(*) FROM requestlog_request WHERE key_prefix = 'tg-PGPGPGPG'")[0]
    assert count == 7
    partitions = [
        name for (name,) in _sql(pg_url, "SELECT relname FROM pg_class WHERE relname LIKE 'requestlog_request_p%'")
    ]
    assert len(partitions) >= 6  # one per distinct day written
    row = _sql(pg_url, "SELECT cost, client_ip::text, stream, ttfb_ms FROM requestlog_request LIMIT 1")[0]
    assert (str(row[0]), row[1], row[2], row[3]) == ("0.250000000", "192.0.2.1/32", True, 3)


def test_pruning_drops_whole_partitions_past_the_retention_and_makes_the_next_days(pg_url):
    _run(pg_url, NOTE_ROWS)
    out = _manage(pg_url, "prune_request_log", env={"REQUEST_LOG_DAYS": "30"})
    assert "Dropped" in out and "partitions" in out
    days = _run(
        pg_url,
        "import json; from requestlog.storage import partitions_list; "
        "print(json.dumps([d.isoformat() for _, d in partitions_list()]))",
    )
    import datetime

    today = datetime.datetime.now(datetime.UTC).date()
    assert min(days) >= (today - datetime.timedelta(days=29)).isoformat()
    assert (today + datetime.timedelta(days=3)).isoformat() in days
    ages = _sql(pg_url, "SELECT max(now() - time) FROM requestlog_request")[0][0]
    assert ages < datetime.timedelta(days=30)
    assert _sql(pg_url, "SELECT count(*) FROM requestlog_request WHERE time > now() - interval '2 days'")[0][0] >= 3


EXPLAIN = """
import json
from django.db import connection
from requestlog.selectors import request_filter
plans = {}
for name, rows in {
    "user": request_filter(user_id=7, model="pg-model"),
    "request_id": request_filter(user_id=None, request_id="pg-0-1"),
    "staff": request_filter(user_id=None),
}.items():
    sql, params = rows.values("id")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # The partitions here are tiny, so a scan would win; at scale (bench/requestlog.py) the index does.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plans[name] = "\\n".join(line for (line,) in cursor.fetchall())
print(json.dumps(plans))
"""


def test_the_reading_queries_can_use_the_indexes_and_need_no_sort(pg_url):
    _run(pg_url, NOTE_ROWS)
    plans = _run(pg_url, EXPLAIN)
    assert "user_id_time_id_idx" in plans["user"] and "Sort" not in plans["user"].split("Limit")[1], plans["user"]
    assert "request_id_idx" in plans["request_id"], plans["request_id"]
    assert "pkey" in plans["staff"] and "Backward" in plans["staff"], plans["staff"]
