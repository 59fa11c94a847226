"""Single sign-on with a verified address at a team's domain joins the team, end to end against a real provider."""

import pytest

from conftest import sqlite_test_url
from teams.models import Membership, Role, Team
from testsupport.sso import oidc_provider_fixture, sso_log_in, tollgate_with_sso  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)  # the live server reads what the test writes


def test_a_verified_address_at_the_domain_joins_and_an_unverified_one_does_not(
    oidc_provider, live_server_factory, live_server_env, user
):
    team = Team.objects.create(name="Corp", email_domain="corp.example")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    tollgate, _ = tollgate_with_sso(
        lambda env: live_server_factory({"DATABASE_URL": sqlite_test_url(), **live_server_env, **env}), oidc_provider
    )

    ann = oidc_provider.create_user("ann@corp.example")
    done = sso_log_in(tollgate.url, "testidp", ann)
    assert done.landing.url == tollgate.url + "/"
    joined = Membership.objects.get(team=team, user__email="ann@corp.example")
    assert joined.role == Role.MEMBER
    teams_page = done.session.get(tollgate.url + "/teams/")
    assert "Corp" in teams_page.text
    # A second log-in changes nothing; the audit trail says how she joined.
    sso_log_in(tollgate.url, "testidp", ann)
    assert Membership.objects.filter(user__email="ann@corp.example").count() == 1
    from accounts.models import AuditEvent

    assert AuditEvent.objects.filter(action="team.joined", actor__email="ann@corp.example").count() == 1

    mallory = oidc_provider.create_user("mallory@corp.example", email_verified=False)
    sso_log_in(tollgate.url, "testidp", mallory)
    assert not Membership.objects.filter(user__email="mallory@corp.example").exists()
    other = oidc_provider.create_user("olga@elsewhere.example")
    sso_log_in(tollgate.url, "testidp", other)
    assert not Membership.objects.filter(user__email="olga@elsewhere.example").exists()
