"""Signals keys sends for the apps above it to act on (mail, webhooks), without keys importing them."""

from django.dispatch import Signal

# Sent once per threshold crossed: key_id, day, kind ("requests" or "tokens"), percent (80 or 100).
usage_threshold_crossed = Signal()
