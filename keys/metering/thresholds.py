"""Which alert thresholds a count passes, and telling the apps that mail or post about them."""

import datetime

from keys.signals import usage_threshold_crossed

THRESHOLDS = (80, 100)


def thresholds_crossed(before: int, after: int, limit: int | None) -> list[int]:
    """The thresholds (in percent of `limit`) that going from `before` to `after` passes."""
    if not limit or after <= before:
        return []
    return [t for t in THRESHOLDS if before * 100 < t * limit <= after * 100]


def thresholds_note(*, key_id: int, day: datetime.date, kind: str, before: int, after: int, limit: int | None) -> None:
    for percent in thresholds_crossed(before, after, limit):
        usage_threshold_crossed.send(sender=None, key_id=key_id, day=day, kind=kind, percent=percent)
