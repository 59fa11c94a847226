"""The writer: every field lands, refused calls too, the buffer is bounded and failures never raise."""

import datetime
import logging
import time
from decimal import Decimal

import pytest
from django.db import connection

from requestlog import request_log_note, writer
from requestlog.models import FIELDS, RequestLog


@pytest.mark.django_db
def test_every_field_is_written(note, user):
    started = time.time() - 5
    note(
        user_id=user.pk,
        request_id="req-every-field",
        key_prefix="tg-Zz9Yy8Xx",
        endpoint="/v1/embeddings",
        model="emb-1",
        upstream="east",
        status=201,
        refusal="",
        stream=True,
        latency_ms=1234,
        ttfb_ms=56,
        prompt_tokens=78,
        completion_tokens=90,
        cost=Decimal("0.000123456"),
        client_ip="2001:db8::7",
        team_id=42,
        started=started,
    )
    row = RequestLog.objects.get(request_id="req-every-field")
    assert abs(row.time.timestamp() - started) < 0.001
    assert (row.user_id, row.team_id, row.key_prefix, row.endpoint, row.model, row.upstream) == (
        user.pk,
        42,
        "tg-Zz9Yy8Xx",
        "/v1/embeddings",
        "emb-1",
        "east",
    )
    assert (row.status, row.refusal, row.stream, row.latency_ms, row.ttfb_ms) == (201, "", True, 1234, 56)
    assert (row.prompt_tokens, row.completion_tokens, row.cost, row.client_ip) == (
        78,
        90,
        Decimal("0.000123456"),
        "2001:db8::7",
    )


@pytest.mark.django_db
def test_a_refused_call_is_a_row_with_its_code(note, user):
    note(
        user_id=user.pk,
        request_id="req-refused",
        status=429,
        refusal="tokens",
        latency_ms=2,
        ttfb_ms=None,
        prompt_tokens=0,
        completion_tokens=0,
        cost=None,
        upstream="",
    )
    row = RequestLog.objects.get(request_id="req-refused")
    assert (row.status, row.refusal, row.ttfb_ms, row.cost, row.upstream) == (429, "tokens", None, Decimal(0), "")


@pytest.mark.django_db
def test_without_a_time_the_row_is_dated_when_the_call_started(note, user):
    before = time.time()
    note(user_id=user.pk, request_id="req-dated", latency_ms=3000)
    row = RequestLog.objects.get(request_id="req-dated")
    assert before - 3.1 < row.time.timestamp() < time.time() - 2.9


@pytest.mark.django_db
def test_request_log_ip_0_leaves_the_address_out(note, user, settings):
    settings.REQUEST_LOG_IP = False
    note(user_id=user.pk, request_id="req-no-ip", client_ip="198.51.100.4")
    assert RequestLog.objects.get(request_id="req-no-ip").client_ip is None


@pytest.mark.django_db
def test_overlong_values_are_cut_to_their_columns_not_lost(note, user):
    note(user_id=user.pk, request_id="r" * 64, model="m" * 500, endpoint="/v1/" + "x" * 100)
    row = RequestLog.objects.get(request_id="r" * 64)
    assert len(row.model) == 200 and len(row.endpoint) == 64


def test_the_table_has_no_field_that_could_hold_text_of_a_call():
    names = {field.column for field in RequestLog._meta.get_fields() if hasattr(field, "column")}
    assert names == {"id", *FIELDS}
    assert all(field.max_length <= 200 for field in RequestLog._meta.fields if field.get_internal_type() == "CharField")


def test_the_buffer_is_bounded_and_counts_what_it_dropped(monkeypatch):
    monkeypatch.setattr(writer, "MAX_ROWS", 3)
    dropped = writer.dropped_total()
    for n in range(5):
        request_log_note(
            request_id=f"b{n}",
            user_id=None,
            key_prefix="",
            endpoint="/query",
            model="m",
            upstream="",
            status=200,
            refusal="",
            stream=True,
            latency_ms=1,
            ttfb_ms=1,
            prompt_tokens=0,
            completion_tokens=0,
            cost=None,
            client_ip=None,
        )
    assert writer.pending() == 3
    assert [row[1] for row in writer._rows] == ["b2", "b3", "b4"]  # the oldest went first
    assert writer.dropped_total() == dropped + 2


@pytest.mark.django_db
def test_a_failing_write_never_raises_and_is_logged_once(note, user, monkeypatch, caplog):
    from requestlog import storage

    def broken(rows):
        raise ValueError("log table refused the rows")

    monkeypatch.setattr(storage, "rows_write", broken)
    dropped = writer.dropped_total()
    with caplog.at_level(logging.WARNING, logger="requestlog.writer"):
        for _ in range(3):
            note(user_id=user.pk)  # flushes each time
    assert writer.dropped_total() == dropped + 3
    assert len([r for r in caplog.records if "could not write" in r.message]) == 1
    monkeypatch.undo()
    note(user_id=user.pk, request_id="req-after-outage")
    assert RequestLog.objects.filter(request_id="req-after-outage").exists()
    assert any("writing again" in r.message for r in caplog.records)


@pytest.mark.django_db(transaction=True)
async def test_noting_from_the_event_loop_writes_within_seconds(user, monkeypatch):
    monkeypatch.setattr(writer, "FLUSH_SECONDS", 0.05)
    start = time.perf_counter()
    for n in range(200):
        request_log_note(
            request_id=f"loop-{n}",
            user_id=user.pk,
            key_prefix="tg-x",
            endpoint="/v1/chat/completions",
            model="m",
            upstream="u",
            status=200,
            refusal="",
            stream=False,
            latency_ms=1,
            ttfb_ms=1,
            prompt_tokens=1,
            completion_tokens=1,
            cost=None,
            client_ip="127.0.0.1",
        )
    noting = time.perf_counter() - start
    assert noting < 0.05  # 200 notes: appends, nothing more
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if await RequestLog.objects.filter(request_id__startswith="loop-").acount() == 200:
            break
        await __import__("asyncio").sleep(0.05)
    assert await RequestLog.objects.filter(request_id__startswith="loop-").acount() == 200


@pytest.mark.django_db
def test_sqlite_pruning_deletes_rows_past_the_retention_in_batches(note, user, settings, monkeypatch):
    from requestlog import storage

    settings.REQUEST_LOG_DAYS = 2
    monkeypatch.setattr(storage, "SQLITE_BATCH", 2)
    now = time.time()
    for days in (0, 1, 2, 3, 3, 5):
        note(user_id=user.pk, request_id=f"age-{days}-{time.monotonic_ns()}", started=now - days * 86400)
    assert storage.log_prune() == 4
    assert sorted(RequestLog.objects.values_list("request_id", flat=True))[0].startswith("age-0")
    assert RequestLog.objects.count() == 2


def test_the_prune_lease_goes_to_one_caller_a_day(db):
    from requestlog.storage import prune_lease_take

    today = datetime.date(2031, 5, 6)
    assert prune_lease_take(today=today) is True
    assert prune_lease_take(today=today) is False
    assert prune_lease_take(today=today + datetime.timedelta(days=1)) is True


def test_the_migration_made_the_table_for_this_database(db):
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "requestlog_request" in tables
