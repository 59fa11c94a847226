"""Staff read everyone's daily usage in the admin, at the address it always had, and cannot change it."""

import pytest

from keys.metering import utc_today
from keys.models import DailyUsage

pytestmark = pytest.mark.django_db


def test_usage_overview_is_read_only(staff_client, user, key_factory):
    key, _ = key_factory(user)
    DailyUsage.objects.create(key=key, day=utc_today(), requests=7, prompt_tokens=1, completion_tokens=2)
    page = staff_client.get("/admin/keys/dailyusage/").content.decode()
    assert "alice@example.com" in page and "10RequestPerDay" in page
    assert staff_client.get("/admin/keys/dailyusage/add/").status_code == 403
