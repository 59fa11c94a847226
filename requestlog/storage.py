"""Writing rows in batches and dropping old ones: COPY into day partitions on PostgreSQL, bulk inserts on SQLite."""

import datetime
import logging

from django.db import connection, transaction

from requestlog.app_settings import app_settings
from requestlog.models import FIELDS, TABLE, PruneLease, RequestLog

logger = logging.getLogger(__name__)
DAY = datetime.timedelta(days=1)
AHEAD_DAYS = 3
SQLITE_BATCH = 5_000
_COPY_SQL = f"COPY {TABLE} ({', '.join(FIELDS)}) FROM STDIN"
_known_partitions: set[datetime.date] = set()  # days this process has seen a partition for


def partition_name(day: datetime.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def partitions_ensure(days) -> None:
    """Create the day partitions that `days` need and do not have yet (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    missing = sorted(set(days) - _known_partitions)
    if not missing:
        return
    with connection.cursor() as cursor:
        for day in missing:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{day.isoformat()}T00:00:00+00') TO ('{(day + DAY).isoformat()}T00:00:00+00')"
            )
    _known_partitions.update(missing)


def rows_write(rows: list[tuple]) -> None:
    """Write `rows` (tuples in FIELDS' order, `time` an aware datetime) in one transaction."""
    if connection.vendor == "postgresql":
        partitions_ensure({row[0].astimezone(datetime.UTC).date() for row in rows})
        with transaction.atomic(), connection.cursor() as cursor:
            # A log database that hangs must not hold the database thread for long.
            cursor.execute("SET LOCAL statement_timeout = '10s'")
            with cursor.cursor.copy(_COPY_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        objects = [RequestLog(**dict(zip(FIELDS, row, strict=True))) for row in rows]
        RequestLog.objects.bulk_create(objects, batch_size=500)


def partitions_list() -> list[tuple[str, datetime.date]]:
    """The day partitions that exist now, oldest first (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
    stamp = len(TABLE) + 2
    return sorted(
        (name, datetime.datetime.strptime(name[stamp:], "%Y%m%d").date()) for name in names if name[stamp:].isdigit()
    )


def log_prune(*, today: datetime.date | None = None) -> int:
    """Drop what is older than REQUEST_LOG_DAYS: whole partitions on PostgreSQL (count of partitions),
    batches of rows on SQLite (count of rows). Also creates the next days' partitions."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    oldest = today - (app_settings.DAYS - 1) * DAY
    if connection.vendor == "postgresql":
        partitions_ensure(today + n * DAY for n in range(AHEAD_DAYS + 1))
        dropped = 0
        for name, day in partitions_list():
            if day < oldest:
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
                _known_partitions.discard(day)
                dropped += 1
        return dropped
    cutoff = datetime.datetime.combine(oldest, datetime.time(), datetime.UTC)
    deleted = 0
    while True:
        # Small batches: a long delete would hold SQLite's single write lock from the gateway.
        ids = list(RequestLog.objects.filter(time__lt=cutoff).values_list("id", flat=True)[:SQLITE_BATCH])
        if not ids:
            return deleted
        deleted += RequestLog.objects.filter(id__in=ids).delete()[0]


def prune_lease_take(*, today: datetime.date) -> bool:
    """True for the one process that claims today's pruning (a row updated once a day)."""
    PruneLease.objects.get_or_create(pk=1, defaults={"day": datetime.date(2000, 1, 1)})
    return PruneLease.objects.filter(pk=1, day__lt=today).update(day=today) > 0


def partitions_forget() -> None:
    """Forget which partitions exist (after a test database is dropped)."""
    _known_partitions.clear()
