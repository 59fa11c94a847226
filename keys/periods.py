"""A plan's period, a calendar day, week (from Monday) or month in its time zone: where it starts and resets."""

import datetime
import time
import zoneinfo
from functools import lru_cache

PERIODS = ("day", "week", "month")
MOMENT_FORMAT = "D j M H:i"  # Mon 7 Dec 00:00; the names in the active language
# (period, zone) -> (begins, ends, first day, reset): Unix times of the period's bounds, and the answer.
_current: dict[tuple[str, str], tuple[float, float, datetime.date, datetime.datetime]] = {}


@lru_cache(maxsize=256)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone; raises zoneinfo.ZoneInfoNotFoundError (a KeyError) for an unknown name."""
    if not name or name != name.strip():
        raise zoneinfo.ZoneInfoNotFoundError(name)
    return zoneinfo.ZoneInfo(name)


def time_zone_valid(name: str) -> bool:
    try:
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def period_bounds(
    period: str, time_zone: str, now: datetime.datetime | None = None
) -> tuple[datetime.date, datetime.datetime]:
    """The first local day of the period holding `now`, and when the next one starts (aware, in the zone)."""
    tz = zone(time_zone)
    local = (now or datetime.datetime.now(datetime.UTC)).astimezone(tz)
    today = local.date()
    if period == "week":
        start = today - datetime.timedelta(days=today.weekday())
        following = start + datetime.timedelta(days=7)
    elif period == "month":
        start = today.replace(day=1)
        following = (start + datetime.timedelta(days=32)).replace(day=1)
    elif period == "day":
        start, following = today, today + datetime.timedelta(days=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    return start, datetime.datetime.combine(following, datetime.time(0), tzinfo=tz)


def period_current(period: str, time_zone: str) -> tuple[datetime.date, datetime.datetime]:
    """period_bounds() for now; on the hot path, so worked out once a period, not once a call."""
    key = (period, time_zone)
    cached = _current.get(key)
    now = time.time()
    if cached is None or not cached[0] <= now < cached[1]:
        start, reset = period_bounds(period, time_zone, datetime.datetime.fromtimestamp(now, datetime.UTC))
        begins = datetime.datetime.combine(start, datetime.time(0), tzinfo=zone(time_zone)).timestamp()
        cached = (begins, reset.timestamp(), start, reset)
        _current[key] = cached
    return cached[2], cached[3]


def seconds_until(reset: datetime.datetime) -> int:
    """Whole seconds until `reset`, at least 1."""
    return max(int(reset.timestamp() - time.time()) + 1, 1)


def zone_name(moment: datetime.datetime) -> str:
    """The moment's zone as IANA names it (Asia/Bangkok), else its abbreviation."""
    return getattr(moment.tzinfo, "key", None) or moment.tzname() or "UTC"


def moment_text(moment: datetime.datetime) -> str:
    """A moment in its own time zone, for people: 'Mon 7 Dec 00:00 Asia/Bangkok' (in the active language)."""
    from django.utils import dateformat

    return f"{dateformat.format(moment, MOMENT_FORMAT)} {zone_name(moment)}"
