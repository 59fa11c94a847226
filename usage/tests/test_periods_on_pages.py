"""Plans' periods, budgets and reset moments, and each key's spend this period, on every page that shows them."""

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client

from keys import services
from keys.models import DailyUsage, QuotaCounter
from keys.periods import period_bounds

pytestmark = pytest.mark.django_db


@pytest.fixture
def weekly(plans):
    """A plan counted by the week in Bangkok, with a budget of 5 USD."""
    plan = plans["20RequestPerDay"]
    plan.period, plan.time_zone, plan.budget, plan.tokens_per_day = "week", "Asia/Bangkok", Decimal("5"), 9000
    plan.save()
    return plan


def plan_card(page: str, name: str) -> str:
    return next(card for card in page.split('<li class="card plan">')[1:] if f"<code>{name}</code>" in card)


def expected_reset(period: str, zone: str) -> str:
    reset = period_bounds(period, zone)[1]
    return f"{reset:%a} {reset.day} {reset:%b} 00:00 {zone}"


def test_plan_cards_name_the_period_the_budget_and_the_reset(alice_client, weekly, plans):
    for page in (Client().get("/").content.decode(), alice_client.get("/keys/").content.decode()):
        card = plan_card(page, "20RequestPerDay")
        assert "20 <span>requests a week</span>" in card
        assert "and 9,000 tokens a week" in card
        assert "Budget: <strong>5.00 USD</strong> a week" in card
        reset = re.search(r'Resets <time datetime="([^"]+)">([^<]+)</time>', card)
        assert reset.group(2) == expected_reset("week", "Asia/Bangkok")
        assert reset.group(2).startswith("Mon ")  # a week starts on Monday
        # The same instant in ISO form: Bangkok's midnight is 17:00 UTC the day before.
        assert reset.group(1).endswith("T17:00:00+00:00")
        day_card = plan_card(page, "10RequestPerDay")
        assert "requests a day" in day_card and "Budget" not in day_card
        assert expected_reset("day", "UTC") in day_card


def test_key_rows_show_spend_this_period_and_the_budget_left(alice_client, user, weekly):
    key, _ = services.key_create(owner=user, plan_name=weekly.name)
    start, _ = period_bounds("week", "Asia/Bangkok")
    QuotaCounter.objects.create(
        owner_id=user.pk, plan=weekly, day=start, used=4, tokens=1200, spent_nanos=1_250_000_000
    )
    # An earlier week's spend is not this period's.
    earlier = start - datetime.timedelta(days=7)
    QuotaCounter.objects.create(owner_id=user.pk, plan=weekly, day=earlier, used=9, spent_nanos=4_000_000_000)

    keys = alice_client.get("/keys/").content.decode()
    row = keys[keys.index(f"{key.public_prefix}…</code>") : keys.index("</tr>", keys.index(key.public_prefix))]
    assert "4 / 20" in row and "1,200 / 9,000 tokens" in row
    assert "1.25 USD of 5.00 USD spent" in row and "3.75 USD left" in row
    assert "resets <time" in row and expected_reset("week", "Asia/Bangkok") in row

    dashboard = alice_client.get("/").content.decode()
    assert "of 20 requests left this week" in dashboard and "1,200 of 9,000 tokens used this week" in dashboard
    assert "1.25 USD of 5.00 USD spent this week" in dashboard and "3.75 USD left" in dashboard
    assert "today" not in dashboard.lower()

    usage = alice_client.get("/usage/").content.decode()
    period = usage[usage.index("This period") : usage.index('<form method="get"')]
    assert "of 20 requests left this week" in period and "1.25 USD of 5.00 USD spent this week" in period
    assert expected_reset("week", "Asia/Bangkok") in period


def test_a_plan_without_budget_shows_spend_but_no_budget(alice_client, user, plans):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    start, _ = period_bounds("day", "UTC")
    QuotaCounter.objects.create(owner_id=user.pk, plan=key.plan, day=start, used=2, spent_nanos=30_000_000)
    keys = alice_client.get("/keys/").content.decode()
    assert "0.03 USD spent" in keys and " left</small>" not in keys
    dashboard = alice_client.get("/").content.decode()
    assert "of 10 requests left today" in dashboard and "0.03 USD spent today" in dashboard


def test_the_currency_is_the_setting(alice_client, user, weekly, settings):
    settings.TOLLGATE_CURRENCY = "THB"
    services.key_create(owner=user, plan_name=weekly.name)
    assert "Budget: <strong>5.00 THB</strong> a week" in alice_client.get("/keys/").content.decode()
    assert "Spend a day (THB)" in alice_client.get("/usage/").content.decode()


def test_the_staff_overview_shows_spend_per_plan_model_and_user(staff_client, user, other_user, weekly, plans):
    alices, _ = services.key_create(owner=user, plan_name=weekly.name)
    bobs, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay")
    today = datetime.datetime.now(datetime.UTC).date()
    DailyUsage.objects.create(key=alices, day=today, model="gpt-x", requests=3, cost_nanos=2_500_000_000)
    DailyUsage.objects.create(key=alices, day=today, model="cheap", requests=50, cost_nanos=10_000_000)
    DailyUsage.objects.create(key=bobs, day=today, model="gpt-x", requests=1, cost_nanos=500_000_000)
    page = staff_client.get("/admin/usage/").content.decode()

    def table(heading: str) -> str:
        start = page.index(f"<h2>{heading}</h2>")
        return page[start : page.index("</table>", start)]

    assert "Spent (USD)" in table("Per plan")
    assert re.search(r'<td>20RequestPerDay</td><td>53</td><td>0</td><td>0</td><td class="spent">2.51</td>', page)
    assert re.search(r'<td>10RequestPerDay</td><td>1</td><td>0</td><td>0</td><td class="spent">0.50</td>', page)
    models = table("Per model")
    assert re.search(r'<td>gpt-x</td><td>4</td><td>0</td><td>0</td><td class="spent">3.00</td>', models)
    # The largest spend first, though "cheap" had more requests.
    assert models.index("gpt-x") < models.index("cheap")
    users = table("Top users")
    assert re.search(r'<td>alice@example.com</td><td>53</td><td>0</td><td>0</td><td class="spent">2.51</td>', users)
    assert re.search(r'<td class="spent">0.50</td>', users)
    days = table("Day by day")
    assert "<td>3.01</td>" in days


def test_periods_budgets_and_spend_read_in_thai(alice_client, user, weekly, plans):
    from portal.tests.test_i18n import english_left

    key, _ = services.key_create(owner=user, plan_name=weekly.name)
    start, reset = period_bounds("week", "Asia/Bangkok")
    QuotaCounter.objects.create(
        owner_id=user.pk, plan=weekly, day=start, used=4, tokens=1200, spent_nanos=1_250_000_000
    )
    DailyUsage.objects.create(key=key, day=datetime.datetime.now(datetime.UTC).date(), requests=4, cost_nanos=10**9)
    thai_days = ["จ.", "อ.", "พ.", "พฤ.", "ศ.", "ส.", "อา."]
    thai_months = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
    when = f"{thai_days[reset.weekday()]} {reset.day} {thai_months[reset.month - 1]} 00:00 Asia/Bangkok"
    kept = [user.email, key.public_prefix, *plans, "Asia/Bangkok"]
    for path in ("/keys/", "/", "/usage/"):
        page = alice_client.get(path, HTTP_ACCEPT_LANGUAGE="th").content.decode()
        assert when in page, path
        assert not english_left(page, *kept), (path, english_left(page, *kept))
    keys = alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "คำขอต่อสัปดาห์" in keys and "งบประมาณ: <strong>5.00 USD</strong> ต่อสัปดาห์" in keys
    assert "ใช้จ่ายไปแล้ว 1.25 USD จาก 5.00 USD" in keys and "เหลือ 3.75 USD" in keys
    dashboard = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "จาก 20 คำขอ คงเหลือสัปดาห์นี้" in dashboard
    usage = alice_client.get("/usage/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "ยอดใช้จ่ายต่อวัน (USD)" in usage and "ค่าใช้จ่าย (USD)" in usage
