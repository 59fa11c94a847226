"""The keys pages and the keys' admin list run as many queries with ten times the data (no N+1)."""

import pytest

from testsupport.scale import grow, queries_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/keys/", "/"])
def test_a_users_key_pages_run_as_many_queries_with_more_data(alice_client, user, key_factory, url):
    key_factory(user)
    grow(users=2, owner=user)
    before = queries_for(alice_client, url)
    grow(users=20, days=6, owner=user)
    assert queries_for(alice_client, url) <= before


@pytest.mark.parametrize(
    "url",
    [
        "/admin/keys/apikey/",
        "/admin/keys/apikey/?q=grown",
        "/admin/keys/apikey/?q=g0000001",
        "/admin/keys/apikey/?plan__id__exact=1&status=revoked",
    ],
)
def test_the_keys_admin_list_runs_as_many_queries_with_more_data(staff_client, plans, url):
    grow(users=2)
    before = queries_for(staff_client, url)
    grow(users=20)
    assert queries_for(staff_client, url) <= before
