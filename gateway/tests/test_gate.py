import datetime

from gateway.refusals import presented_key, reset_duration
from keys.metering import seconds_until_reset


def test_reset_is_written_as_openai_durations():
    assert reset_duration(6 * 3600 + 12 * 60) == "6h12m0s"
    assert reset_duration(59) == "0m59s"
    assert reset_duration(3600) == "1h0m0s"


def test_seconds_until_reset_counts_to_utc_midnight():
    now = datetime.datetime(2026, 11, 23, 23, 59, 30, tzinfo=datetime.UTC)
    assert seconds_until_reset(now) == 31


def test_key_is_read_from_bearer_or_x_api_key():
    assert presented_key({"headers": [(b"authorization", b"Bearer tg-abc")]}) == "tg-abc"
    assert presented_key({"headers": [(b"authorization", b"bearer  tg-abc ")]}) == "tg-abc"
    assert presented_key({"headers": [(b"x-api-key", b"tg-xyz")]}) == "tg-xyz"
    assert presented_key({"headers": [(b"authorization", b"Basic abc")]}) == ""
    assert presented_key({"headers": []}) == ""
