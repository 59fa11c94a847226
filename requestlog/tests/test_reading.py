"""Reading the log: the page, the API and the CSV show a user's own rows only, a page at a time."""

import csv
import io
import time

import pytest
from asgiref.sync import async_to_sync

from requestlog.writer import request_log_flush

pytestmark = pytest.mark.django_db


def _streamed(answer) -> str:
    """The body of a response streamed from an async generator, read as a server reads it."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in answer.streaming_content])

    return async_to_sync(read)().decode()


def _all_pages(client, url: str) -> list[dict]:
    seen, pages = [], 0
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        seen += body["results"]
        url, pages = body["next"], pages + 1
        assert pages < 100
    return seen


def test_the_api_pages_through_every_row_exactly_once_while_new_rows_arrive(alice_client, user, note):
    now = time.time()
    first = [note(user_id=user.pk, started=now - n, flush=False) for n in range(1, 26)]
    request_log_flush()
    seen, url = [], "/api/v1/requests/?limit=4"
    while url:
        body = alice_client.get(url).json()
        seen += [row["request_id"] for row in body["results"]]
        note(user_id=user.pk)  # a new call lands between pages: it is newer, so never in a later page
        url = body["next"]
    assert sorted(seen) == sorted(first)
    assert len(seen) == len(set(seen))


def test_rows_with_the_same_time_are_split_by_id_across_pages(alice_client, user, note):
    same = time.time() - 10
    ids = [note(user_id=user.pk, started=same, flush=False) for _ in range(7)]
    request_log_flush()
    seen = [row["request_id"] for row in _all_pages(alice_client, "/api/v1/requests/?limit=2")]
    assert sorted(seen) == sorted(ids)


def test_nobody_sees_another_users_rows(client, user, other_user, note):
    mine = note(user_id=user.pk, request_id="alice-call")
    note(user_id=other_user.pk, request_id="bob-call")
    client.force_login(other_user)
    assert [row["request_id"] for row in _all_pages(client, "/api/v1/requests/")] == ["bob-call"]
    assert client.get(f"/api/v1/requests/?request_id={mine}").json()["results"] == []
    assert "<code>alice-call</code>" not in client.get(f"/usage/requests/?request_id={mine}").content.decode()
    assert "<code>alice-call</code>" not in client.get("/usage/requests/").content.decode()
    assert "alice-call" not in _streamed(client.get("/usage/requests.csv"))


def test_the_api_rows_carry_the_contract_fields(alice_client, user, note):
    note(user_id=user.pk, request_id="req-shape", status=429, refusal="requests", stream=True)
    (row,) = alice_client.get("/api/v1/requests/?request_id=req-shape").json()["results"]
    assert set(row) == {
        "time", "request_id", "key_prefix", "endpoint", "model", "upstream", "status", "refusal", "stream",
        "latency_ms", "ttfb_ms", "prompt_tokens", "completion_tokens", "cost", "client_ip",
    }  # fmt: skip
    assert (row["status"], row["refusal"], row["stream"], row["cost"]) == (429, "requests", True, "0E-9")


def test_filters_narrow_the_rows(alice_client, user, note, key_factory):
    one = key_factory(user, "10RequestPerDay")[0].public_prefix
    two = key_factory(user, "20RequestPerDay")[0].public_prefix
    now = time.time()
    note(user_id=user.pk, request_id="f-a", key_prefix=one, model="m1", status=200, started=now - 3600)
    note(user_id=user.pk, request_id="f-b", key_prefix=two, model="m2", status=429, refusal="throttle")
    note(user_id=user.pk, request_id="f-c", key_prefix=one, model="m2", status=502, started=now - 86400 * 3)

    def ids(query: str) -> list[str]:
        return [row["request_id"] for row in alice_client.get("/api/v1/requests/?" + query).json()["results"]]

    assert ids(f"key={one}") == ["f-a", "f-c"]
    assert ids(f"key={one}&model=m2") == ["f-c"]
    assert ids("model=m2") == ["f-b", "f-c"]
    assert ids("status=429") == ["f-b"]
    assert ids("refusal=throttle") == ["f-b"]
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 7200))
    assert ids(f"since={since}") == ["f-b", "f-a"]
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 7200))
    assert ids(f"until={until}") == ["f-c"]


def test_a_key_filter_shows_only_the_users_own_rows(client, user, other_user, note, key_factory):
    bobs = key_factory(other_user)[0].public_prefix
    alices = key_factory(user)[0].public_prefix
    note(user_id=other_user.pk, request_id="bob-with-his-key", key_prefix=bobs)
    note(user_id=user.pk, request_id="alice-row-naming-bobs-key", key_prefix=bobs)  # never: but if it were
    client.force_login(user)
    assert client.get(f"/api/v1/requests/?key={bobs}").json()["results"] == []
    note(user_id=other_user.pk, request_id="bob-row-naming-alices-key", key_prefix=alices)
    assert client.get(f"/api/v1/requests/?key={alices}").json()["results"] == []
    assert "bob-row" not in client.get(f"/usage/requests/?key={alices}").content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "limit=%C2%B2",
        "limit=0",
        "limit=100000",
        "status=%C2%B2",
        "status=999",
        "cursor=junk!",
        "cursor=" + "QUFB",
        "cursor=OTk5OTk5OTk5OTk5OTk5OTk5OS4x",
        "model=a%00b",
        "request_id=%00",
        "key=%00",
        "since=yesterday",
        "since=2030-01-02T00:00:00&until=2030-01-01T00:00:00",
    ],
)
def test_bad_parameters_get_400_with_a_message_never_500(alice_client, query):
    for url in ("/api/v1/requests/?", "/usage/requests/?", "/usage/requests.csv?"):
        answer = alice_client.get(url + query)
        assert answer.status_code == 400, (url, query)
        assert answer.content.strip()


def test_pages_and_exports_need_a_log_in_and_the_api_never_redirects(client):
    assert client.get("/api/v1/requests/").status_code in (401, 403)
    assert client.get("/usage/requests/").status_code == 302
    assert client.get("/usage/requests.csv").status_code == 302


def test_the_page_shows_rows_and_links_to_older_ones(alice_client, user, note):
    for n in range(3):
        note(user_id=user.pk, request_id=f"page-row-{n}", started=time.time() - n, flush=False)
    request_log_flush()
    page = alice_client.get("/usage/requests/?limit=2").content.decode()
    assert "page-row-0" in page and "page-row-1" in page and "page-row-2" not in page
    assert 'rel="next"' in page
    older = page.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = alice_client.get("/usage/requests/" + older).content.decode()
    assert "page-row-2" in second and "page-row-0" not in second


def test_the_csv_streams_every_row_of_the_time_range_with_a_header(alice_client, user, note):
    now = time.time()
    for n in range(1203):
        note(user_id=user.pk, request_id=f"csv-{n}", started=now - n, model="=cmd()", flush=False)
    note(user_id=user.pk, request_id="csv-old", started=now - 86400 * 4, flush=False)
    request_log_flush()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 86400))
    answer = alice_client.get(f"/usage/requests.csv?since={since}")
    assert answer.streaming and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(_streamed(answer))))
    assert rows[0][:3] == ["time", "request_id", "key_prefix"] and "prompt" not in ",".join(rows[0][4:9])
    assert len(rows) == 1 + 1203
    assert {row[1] for row in rows[1:]} == {f"csv-{n}" for n in range(1203)}
    assert rows[1][4] == "'=cmd()"  # a spreadsheet shows it, never runs it


def test_team_owners_read_every_members_team_calls_and_nobody_else_does(client, user, other_user, user_factory, note):
    from teams.models import Membership
    from teams.services import team_create

    team = team_create(owner=user, name="Acme")
    Membership.objects.create(team=team, user=other_user)
    note(user_id=other_user.pk, team_id=team.pk, request_id="bob-team-call")
    note(user_id=user.pk, team_id=team.pk, request_id="alice-team-call")
    note(user_id=other_user.pk, request_id="bob-own-call")  # his personal key: not the team's business

    client.force_login(user)
    seen = [row["request_id"] for row in _all_pages(client, f"/api/v1/requests/?team={team.pk}")]
    assert sorted(seen) == ["alice-team-call", "bob-team-call"]
    page = client.get(f"/usage/requests/?team={team.pk}").content.decode()
    assert "<code>bob-team-call</code>" in page and "bob-own-call" not in page and "Requests of team Acme" in page
    csv = _streamed(client.get(f"/usage/requests.csv?team={team.pk}"))
    assert "bob-team-call" in csv and "bob-own-call" not in csv

    client.force_login(other_user)  # a member: 403; his own log still shows his team call as his
    assert client.get(f"/api/v1/requests/?team={team.pk}").status_code == 403
    assert client.get(f"/usage/requests/?team={team.pk}").status_code == 403
    assert client.get(f"/usage/requests.csv?team={team.pk}").status_code == 403
    assert "bob-team-call" in [row["request_id"] for row in _all_pages(client, "/api/v1/requests/")]

    client.force_login(user_factory("eve@evil.test"))  # an outsider: 404
    assert client.get(f"/api/v1/requests/?team={team.pk}").status_code == 404
    assert client.get(f"/usage/requests/?team={team.pk}").status_code == 404
    assert client.get("/api/v1/requests/?team=99999999999999").status_code == 404
