"""Signed webhooks: events about keys, quotas, budgets and upstreams, posted to endpoints staff and users own."""
