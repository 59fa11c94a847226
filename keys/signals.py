"""Signals keys sends for the apps above it to act on (mail, the audit trail, webhooks), without keys importing them.

Keys sends them with send_robust: a failing receiver is logged, and never undoes what already happened.
"""

from django.dispatch import Signal

# Sent once per threshold crossed: key_id, day (the period's first), kind ("requests", "tokens" or "budget"),
# percent (80 or 100).
usage_threshold_crossed = Signal()

# Sent after a change commits to the caller. `actor` (where given): who did it; otherwise the request's user.
key_created = Signal()  # key
key_revoked = Signal()  # key, because ("revoked", or "expired")
key_expiring = Signal()  # key: it expires within EXPIRY_WARNING (sent by keys_expiring_announce)
key_rotated = Signal()  # key (the old one), new_key
key_switched = Signal()  # key (now in its new plan), old_plan
key_scoped = Signal()  # key, fields (the scope fields changed: allowed_ips, allowed_models, max_requests)
plan_saved = Signal()  # plan, change ("created", "edited" or "retired"), fields (names changed), actor
plans_synced = Signal()  # summary (what changed at the backend), actor (None from manage.py)
