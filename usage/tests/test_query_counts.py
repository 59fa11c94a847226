"""The usage pages and the staff's usage lists run as many queries with ten times the data (no N+1)."""

import pytest

from testsupport.scale import grow, queries_for

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    "/admin/usage/",
    "/admin/usage/refusals.csv",
    "/admin/keys/dailyusage/",
    "/admin/keys/dailyusage/?q=grown1@example.com",
    "/admin/keys/dailyusage/?key__plan__id__exact=1",
]


def test_a_users_usage_page_runs_as_many_queries_with_more_data(alice_client, user, key_factory):
    key_factory(user)
    grow(users=2, owner=user)
    before = queries_for(alice_client, "/usage/")
    grow(users=20, days=6, owner=user)
    assert queries_for(alice_client, "/usage/") <= before


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_the_staff_usage_pages_run_as_many_queries_with_more_data(staff_client, plans, url):
    grow(users=2)
    before = queries_for(staff_client, url)
    grow(users=20, days=6)
    assert queries_for(staff_client, url) <= before
