"""A user's account: their settings and the audit trail of who did what."""
