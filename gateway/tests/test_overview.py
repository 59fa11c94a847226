"""Staff's usage overview: demand per day, plan, model, upstream and user, and refusals by reason."""

import datetime

import pytest

from gateway.models import Upstream, UpstreamDay
from keys import services
from keys.metering import utc_today
from keys.models import DailyUsage, Refusal

pytestmark = pytest.mark.django_db


def test_the_overview_shows_demand_and_refusals(staff_client, user, other_user, plans):
    alice, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    bob, _ = services.key_create(owner=other_user, plan_name="30RequestPerDay")
    today = utc_today()
    DailyUsage.objects.create(key=alice, day=today, model="chat", requests=9, prompt_tokens=90, completion_tokens=10)
    DailyUsage.objects.create(key=bob, day=today, model="embed", requests=30, prompt_tokens=300)
    Refusal.objects.create(key=alice, day=today, reason="requests", count=41)
    Refusal.objects.create(key=bob, day=today - datetime.timedelta(days=1), reason="throttle", count=5)
    upstream = Upstream.objects.create(name="gpu-1", base_url="http://10.0.0.5/v1")
    UpstreamDay.objects.create(upstream=upstream, day=today, requests=40, errors=2, seconds=8.0)
    page = staff_client.get("/admin/usage/").content.decode()
    assert 'data-value="39"' in page and 'data-value="41"' in page  # requests and refusals today
    assert "<td>daily requests</td><td>10RequestPerDay</td><td>41</td>" in page  # the reason, named
    assert "<td>gpu-1</td><td>40</td><td>2</td><td>5.0%</td><td>200 ms</td>" in page
    assert "<td>bob@example.com</td><td>30</td>" in page and "<td>embed</td><td>30</td>" in page
    csv_text = staff_client.get("/admin/usage/refusals.csv").content.decode()
    assert csv_text.splitlines() == ["reason,plan,count", "requests,10RequestPerDay,41", "throttle,30RequestPerDay,5"]


def test_the_overview_is_for_staff_only(client, user):
    client.force_login(user)
    assert client.get("/admin/usage/").status_code == 302
    assert client.get("/admin/usage/refusals.csv").status_code == 302


def test_the_admin_links_to_it(staff_client):
    assert 'href="/admin/usage/"' in staff_client.get("/admin/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_hourly_upkeep_sums_closed_days_so_the_first_visit_of_a_day_sums_none(staff_client, user, plans):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gateway.overview import overview_warm_claim
    from requestlog.writer import upkeep
    from usage.models import UsageDaySummary, UsageOwnerWindow

    cache.delete(overview_warm_claim())  # the cache's table outlives a test's flush: no earlier upkeep's claim
    alice, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    old = utc_today() - datetime.timedelta(days=3)
    DailyUsage.objects.create(key=alice, day=old, model="chat", requests=12, prompt_tokens=40)
    assert not UsageDaySummary.objects.exists()

    upkeep()  # what each process writing the request log runs about once an hour

    assert UsageDaySummary.objects.get(day=old).requests == 12
    assert UsageOwnerWindow.objects.get(owner=user).requests == 12
    with CaptureQueriesContext(connection) as seen:
        page = staff_client.get("/admin/usage/").content.decode()
    assert "<td>alice@example.com</td><td>12</td>" in page
    assert not [q["sql"] for q in seen.captured_queries if q["sql"].startswith('INSERT INTO "usage_')]

    # Another process's upkeep the same hour finds the day claimed and sums nothing again.
    UsageDaySummary.objects.all().delete()
    upkeep()
    assert not UsageDaySummary.objects.exists()
