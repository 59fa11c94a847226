"""Signals the gateway sends for the apps above it (webhooks), without importing them."""

from django.dispatch import Signal

# An upstream's circuit opened ("down": it failed FAILURES_TO_OPEN times in a row) or closed again ("up").
# upstream (its name), state ("down" or "up"), reason. Sent from the event loop: receivers must not block.
upstream_state_changed = Signal()
