"""A key's own cap a period (ApiKey.max_requests), under its plan's: one conditional upsert per call.

Counted in the database whichever store holds the plan's counters: few keys have a cap, and one
statement keeps it exact across processes.
"""

import datetime

from django.db import connection

from keys.metering.types import Admission, KeyInfo
from keys.models import KeyCounter
from plumbing.dbthread import in_db_thread

_TABLE = KeyCounter._meta.db_table
_TAKE_SQL = f"""
INSERT INTO {_TABLE} (key_id, day, used) VALUES (%s, %s, 1)
ON CONFLICT (key_id, day) DO UPDATE SET used = {_TABLE}.used + 1 WHERE {_TABLE}.used < %s
RETURNING used
"""
_GIVE_SQL = f"UPDATE {_TABLE} SET used = used - 1 WHERE key_id = %s AND day = %s AND used > 0"


def _take(key_id: int, day: datetime.date, cap: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SQL, (key_id, day, cap))
        row = cursor.fetchone()
    return None if row is None else row[0]


def _give(key_id: int, day: datetime.date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_GIVE_SQL, (key_id, day))


def key_cap_used_sync(key_id: int, day: datetime.date) -> int:
    return KeyCounter.objects.filter(key_id=key_id, day=day).values_list("used", flat=True).first() or 0


async def key_cap_take(info: KeyInfo, day: datetime.date) -> Admission:
    """Count one request against the key's cap for the period starting `day`, if it has room."""
    cap = info.max_requests or 0
    used = await in_db_thread(_take, info.key_id, day, cap)
    if used is None:
        return Admission(admitted=False, used=cap, limit=cap)
    return Admission(admitted=True, used=used, limit=cap)


async def key_cap_give(info: KeyInfo, day: datetime.date) -> None:
    """Give back a request key_cap_take counted: the plan refused the call, or the model did not answer."""
    await in_db_thread(_give, info.key_id, day)
