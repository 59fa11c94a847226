"""Usage over days: the page's chart and table, the CSV and the JSON, isolation, hostile query strings."""

import csv
import datetime
import io
import re

import pytest

from keys import services
from keys.metering import utc_today
from keys.models import DailyUsage, Refusal

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(user, other_user, plans):
    """Alice's use over three days on two models, a refusal, and Bob's use, which she must never see."""
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    today = utc_today()
    yesterday = today - datetime.timedelta(days=1)
    DailyUsage.objects.create(
        key=key, day=today, model="chat", requests=4, prompt_tokens=40, completion_tokens=60, cost_nanos=12_000_000
    )
    DailyUsage.objects.create(key=key, day=today, model="embed", requests=2, prompt_tokens=10, completion_tokens=0)
    DailyUsage.objects.create(
        key=key, day=yesterday, model="chat", requests=7, prompt_tokens=5, completion_tokens=5, cost_nanos=1_500_000_000
    )
    Refusal.objects.create(key=key, day=yesterday, reason="requests", count=3)
    old = today - datetime.timedelta(days=40)
    DailyUsage.objects.create(key=key, day=old, model="chat", requests=99)  # outside the 30 days
    bobs, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay")
    DailyUsage.objects.create(key=bobs, day=today, model="secret-model", requests=500, cost_nanos=7_000_000_000)
    return key, today, yesterday


def test_the_chart_and_the_table_show_the_stored_numbers(alice_client, history):
    key, today, yesterday = history
    page = alice_client.get("/usage/").content.decode()
    assert "<title>Usage · Tollgate</title>" in page
    assert len(re.findall(r"<figure class=\"chart\">", page)) == 3
    requests_chart = page[page.index("Requests a day") : page.index("Tokens a day")]
    req_bars = dict(re.findall(r'data-day="([\d-]+)" data-value="(\d+)"', requests_chart))
    tokens_chart = page[page.index("Tokens a day") : page.index("Spend a day")]
    tok_bars = dict(re.findall(r'data-day="([\d-]+)" data-value="(\d+)"', tokens_chart))
    assert len(req_bars) == 30 and req_bars[today.isoformat()] == "6" and req_bars[yesterday.isoformat()] == "7"
    assert tok_bars[today.isoformat()] == "110" and tok_bars[yesterday.isoformat()] == "10"
    table = page[page.index("Day by day") : page.index("By key and model")]
    assert re.search(
        rf'{today.isoformat()}</time></th><td class="num">6</td><td class="num">110</td><td class="num">0</td>'
        r'<td class="num">0.012</td>',
        table,
    )
    assert re.search(
        rf'{yesterday.isoformat()}</time></th><td class="num">7</td><td class="num">10</td><td class="num">3</td>'
        r'<td class="num">1.50</td>',
        table,
    )
    assert "secret-model" not in page and "500" not in table and "7.00" not in page


def test_the_page_charts_and_totals_her_spend(alice_client, history):
    key, today, yesterday = history
    page = alice_client.get("/usage/").content.decode()
    chart = page[page.index("Spend a day (USD)") : page.index("</figure>", page.index("Spend a day (USD)"))]
    bars = dict(re.findall(r'data-day="([\d-]+)" data-value="\d+" data-label="([\d.]+)"', chart))
    assert len(bars) == 30 and bars[today.isoformat()] == "0.012" and bars[yesterday.isoformat()] == "1.50"
    assert '<text x="38" y="16" text-anchor="end" class="tick">2.00</text>' in chart  # the top: 1.50 rounded up
    assert "Spent in these 30 days: <strong>1.512 USD</strong>" in page
    rows = page[page.index("By key and model") :]
    assert re.search(r'>chat</td>(<td class="num">[\d,]+</td>){4}<td class="num">0.012</td>', rows)
    assert "Cost (USD)" in rows


def test_filters_by_model_and_key(alice_client, history):
    key, today, _ = history
    page = alice_client.get("/usage/", {"model": "embed"}).content.decode()
    chart = page[page.index("Requests a day") : page.index("Tokens a day")]
    assert re.search(rf'data-day="{today.isoformat()}" data-value="2"', chart)
    other_key = alice_client.get("/usage/", {"key": "999999"}).content.decode()
    assert 'data-value="6"' in other_key  # an id that is not hers is ignored, not an error


def test_the_csv_and_the_json_agree_and_hold_only_her_rows(alice_client, history):
    _, today, yesterday = history
    response = alice_client.get("/usage/export.csv?days=30")
    assert response["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = response.content.decode().splitlines()[0]
    assert header == "day,key_prefix,model,requests,prompt_tokens,completion_tokens,refused,cost"
    api = alice_client.get("/api/v1/usage/?days=30").json()
    assert [list(map(str, r.values())) for r in api] == rows[1:]
    costs = {(r[0], r[2]): r[7] for r in rows[1:]}
    assert costs[(today.isoformat(), "chat")] == "0.012" and costs[(yesterday.isoformat(), "chat")] == "1.50"
    assert costs[(today.isoformat(), "embed")] == "0.00" and costs[(yesterday.isoformat(), "")] == "0.00"
    assert {r["cost"] for r in api} == {"0.012", "1.50", "0.00"}  # strings: exact, never floats
    assert len(rows) == 1 + 4  # today chat and embed; yesterday chat and the refusals' row
    assert all(r[2] != "secret-model" for r in rows[1:])
    assert sum(int(r[3]) for r in rows[1:]) == 13 and sum(int(r[6]) for r in rows[1:]) == 3
    wider = alice_client.get("/api/v1/usage/?days=60").json()
    assert sum(r["requests"] for r in wider) == 13 + 99


@pytest.mark.parametrize("days", ["0", "abc", "1000"])
def test_bad_days_are_400(alice_client, history, days):
    assert alice_client.get(f"/usage/export.csv?days={days}").status_code == 400
    assert alice_client.get(f"/api/v1/usage/?days={days}").status_code == 400


def test_usage_needs_a_login(client):
    assert client.get("/usage/").status_code == 302
    assert client.get("/usage/export.csv").status_code == 302
    assert client.get("/api/v1/usage/").status_code == 403


def test_an_empty_history_says_so(alice_client, plans):
    assert "No use in these 30 days" in alice_client.get("/usage/").content.decode()


def test_csv_cells_a_spreadsheet_would_run_are_escaped(alice_client, history):
    key, today, _ = history
    formulas = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\r=1"]
    DailyUsage.objects.create(key=key, day=today, model="a\rb", requests=1)
    for name in formulas:
        DailyUsage.objects.create(key=key, day=today, model=name, requests=1)
    body = alice_client.get("/usage/export.csv?days=1").content.decode()
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert all(len(row) == 8 for row in rows)  # a "\r" inside a name is quoted, never a row break
    models = {row[2] for row in rows}
    assert {"'" + name for name in formulas} <= models
    assert not any(model.startswith(("=", "+", "-", "@", "\t", "\r")) for model in models)
    assert "chat" in models and "a\rb" in models  # ordinary names untouched
    api = alice_client.get("/api/v1/usage/?days=1").json()
    assert formulas[0] in {row["model"] for row in api}  # JSON is not a spreadsheet: names stay as they are


@pytest.mark.parametrize("value", ["²", "\x00", "1\x00", "٣", "9" * 40, "-1", "1e3"])
def test_hostile_query_strings_get_an_answer_never_a_500(alice_client, history, value):
    assert alice_client.get("/usage/", {"key": value}).status_code == 200  # a key that is not hers: ignored
    assert alice_client.get("/usage/", {"model": value}).status_code == 200
    assert alice_client.get("/usage/", {"model": value, "key": value}).status_code == 200
    assert alice_client.get("/usage/export.csv", {"days": value}).status_code == 400
    assert alice_client.get("/api/v1/usage/", {"days": value}).status_code in (200, 400)  # DRF reads '٣' as 3


def test_a_model_filter_with_a_nul_byte_is_ignored(alice_client, history):
    page = alice_client.get("/usage/", {"model": "chat\x00"}).content.decode()
    assert 'data-value="6"' in page  # today's chat and embed: no filter applied


def test_days_without_use_fold_into_one_line_each_run(alice_client, history):
    page = alice_client.get("/usage/").content.decode()
    table = page[page.index('class="data usage-days"') : page.index("</table>", page.index('class="data usage-days"'))]
    # Used today and yesterday; the other 28 of the 30 days are one quiet run.
    assert table.count('<tr class="quiet-days">') == 1
    assert "28 days without use" in table
    assert table.count("<time ") == 2
    thai = alice_client.get("/usage/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "28 วันที่ไม่มีการใช้งาน" in thai


def test_the_csv_link_keeps_the_filters_and_the_export_applies_them(alice_client, history):
    key, today, yesterday = history
    page = alice_client.get("/usage/", {"key": key.pk, "model": "embed"}).content.decode()
    link = re.search(r'href="(/usage/export\.csv\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert link == f"/usage/export.csv?days=30&key={key.pk}&model=embed"
    rows = list(csv.reader(io.StringIO(alice_client.get(link).content.decode())))
    assert [(row[2], row[3]) for row in rows[1:]] == [("embed", "2")]
    everything = list(csv.reader(io.StringIO(alice_client.get("/usage/export.csv?days=30").content.decode())))
    assert len(everything) > len(rows)
    assert 'href="/usage/export.csv?days=30"' in alice_client.get("/usage/").content.decode()


def test_the_export_never_shows_someone_elses_key_even_when_asked_by_id(alice_client, history, other_user):
    bobs_key = other_user.api_keys.get()
    body = alice_client.get(f"/usage/export.csv?days=30&key={bobs_key.pk}").content.decode()
    assert "secret-model" not in body and body.count("\n") == 1
