"""Signals the request log sends for the apps above it."""

from django.dispatch import Signal

# Sent once a day, by the one process that claimed the day's upkeep (pruning the log): day.
daily_upkeep = Signal()

# Sent about once an hour by every process that writes the log (on a worker thread beside the log's
# writer), before the daily upkeep: chores that are cheap once done and idempotent, such as summing
# closed days ahead of a page that would otherwise sum them on its first visit.
hourly_upkeep = Signal()
