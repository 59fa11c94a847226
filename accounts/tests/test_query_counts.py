"""The activity page and the users' and audit events' admin lists run as many queries with ten times the data."""

import pytest

from testsupport.scale import grow, queries_for

pytestmark = pytest.mark.django_db


def test_a_users_activity_page_runs_as_many_queries_with_more_data(alice_client, user, plans):
    grow(users=2, owner=user)
    before = queries_for(alice_client, "/account/activity/")
    grow(users=20, owner=user)
    assert queries_for(alice_client, "/account/activity/") <= before


@pytest.mark.parametrize(
    "url",
    [
        "/admin/auth/user/",
        "/admin/auth/user/?q=grown1@example.com",
        "/admin/auth/user/?is_staff__exact=0",
        "/admin/accounts/auditevent/",
        "/admin/accounts/auditevent/?q=grown1@example.com",
        "/admin/accounts/auditevent/?action__exact=key.revoked",
    ],
)
def test_the_people_admin_lists_run_as_many_queries_with_more_data(staff_client, plans, url):
    grow(users=2)
    before = queries_for(staff_client, url)
    grow(users=20)
    assert queries_for(staff_client, url) <= before
