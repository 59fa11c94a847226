"""Data that grows, for the tests that a page's query count stays the same however much there is."""

import datetime
import itertools

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from keys.metering import utc_today
from keys.models import ApiKey, DailyUsage, Plan, Refusal

_numbers = itertools.count(1)


def queries_for(client, url: str) -> int:
    """The queries one GET runs, after a first GET (which may fill caches) answered 200."""
    assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def grow(*, users: int, days: int = 3, owner=None) -> None:
    """`users` more users, each with a personal key in every plan (one of them revoked), usage rows over `days`
    days in two models, a refusal and two audit events; with `owner`, that user gains a revoked key in each
    plan with the same rows, so their own pages have more to show too."""
    plans = list(Plan.objects.all())
    batch = [next(_numbers) for _ in range(users)]
    people = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"grown{n}@example.com", email=f"grown{n}@example.com", password="!") for n in batch]
    )
    revoked = timezone.now() - datetime.timedelta(days=1)
    keys = ApiKey.objects.bulk_create(
        [
            ApiKey(
                owner=person,
                plan=plan,
                prefix=f"g{next(_numbers):07d}",
                hashed_secret="-",
                revoked_at=revoked if i else None,
            )
            for person in people
            for i, plan in enumerate(plans)
        ]
        + (
            [
                ApiKey(owner=owner, plan=plan, prefix=f"g{next(_numbers):07d}", hashed_secret="-", revoked_at=revoked)
                for plan in plans
            ]
            if owner
            else []
        )
    )
    today = utc_today()
    DailyUsage.objects.bulk_create(
        [
            DailyUsage(
                key=key, day=today - datetime.timedelta(days=d), model=model, requests=3, prompt_tokens=30, cost_nanos=7
            )
            for key in keys
            for d in range(days)
            for model in ("chat", "embed")
        ]
    )
    Refusal.objects.bulk_create([Refusal(key=key, day=today, reason="requests", count=2) for key in keys])
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=key.owner, actor_email=key.owner.email, subject=key.owner, action=action, target=key.prefix
            )
            for key in keys
            for action in ("key.created", "key.revoked")
        ]
    )
