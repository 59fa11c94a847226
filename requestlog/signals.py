"""Signals the request log sends for the apps above it."""

from django.dispatch import Signal

# Sent once a day, by the one process that claimed the day's upkeep (pruning the log): day.
daily_upkeep = Signal()
