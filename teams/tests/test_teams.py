"""Teams: invitations by mail, roles, removal, one shared quota, and who may see and do what."""

import datetime
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import post_v1
from keys.models import ApiKey, QuotaCounter
from teams.models import Invitation, Membership, Role, Team
from teams.services import invitation_create, team_create

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def link(token: str) -> str:
    return f"http://testserver/invitations/{token}/"


def invite(team, by, email, role=Role.MEMBER) -> str:
    """Invite and return the token, read back from the link in the mail."""
    from django.core import mail

    invitation_create(team=team, by=by, email=email, role=role, link_for=link)
    return re.search(r"/invitations/([^/\s]+)/", mail.outbox[-1].body).group(1)


@pytest.fixture
def team(user):
    return team_create(owner=user, name="Acme")


@pytest.fixture
def member(team, user, user_factory):
    bob = user_factory("bob@acme.test")
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    return bob


def test_the_whole_invitation_path_with_the_mail_read_back(user, team, user_factory, mailoutbox, client):
    created = api(user).post(f"/api/v1/teams/{team.pk}/invitations/", {"email": "Carol@Acme.test", "role": "admin"})
    assert created.status_code == 201 and created.json()["email"] == "carol@acme.test"
    assert created.json()["role"] == "admin" and "token" not in created.json()
    mail = mailoutbox[-1]
    assert mail.to == ["carol@acme.test"] and "Acme" in mail.subject and "alice@example.com" in mail.body
    url = re.search(r"http://testserver(/invitations/[^/\s]+/)", mail.body).group(1)
    token = url.split("/")[2]
    assert not Invitation.objects.filter(token_hash=token).exists()  # only its hash is kept

    page = client.get(url)  # not logged in: told to log in or sign up, with the way back
    assert page.status_code == 200 and "Log in" in page.content.decode() and "next=" in page.content.decode()
    carol = user_factory("carol@acme.test")
    client.force_login(carol)
    assert "Accept and join" in client.get(url).content.decode()
    joined = client.post(url)
    assert joined.status_code == 302 and joined["Location"] == f"/teams/{team.pk}/"
    assert Membership.objects.get(team=team, user=carol).role == Role.ADMIN

    again = api(carol).post(f"/api/v1/invitations/{token}/accept/")
    assert again.status_code == 410 and "already used" in again.json()["detail"]
    assert client.get(url).status_code == 410


def test_an_expired_invitation_is_refused(user, team, user_factory):
    token = invite(team, user, "dave@acme.test")
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    dave = user_factory("dave@acme.test")
    answer = api(dave).post(f"/api/v1/invitations/{token}/accept/")
    assert answer.status_code == 410 and "expired" in answer.json()["detail"]
    assert not Membership.objects.filter(user=dave).exists()


def test_an_invitation_is_for_its_address_only(user, team, other_user):
    token = invite(team, user, "dave@acme.test")
    answer = api(other_user).post(f"/api/v1/invitations/{token}/accept/")
    assert answer.status_code == 403 and "another email address" in answer.json()["detail"]
    assert Invitation.objects.get().accepted_at is None  # still usable by dave


def test_a_new_invitation_replaces_the_open_one(user, team, user_factory):
    first = invite(team, user, "dave@acme.test")
    second = invite(team, user, "dave@acme.test")
    dave = user_factory("dave@acme.test")
    assert api(dave).post(f"/api/v1/invitations/{first}/accept/").status_code == 410
    assert api(dave).post(f"/api/v1/invitations/{second}/accept/").status_code == 200


def team_urls(team_id: int, user_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/api/v1/teams/{team_id}/", {}),
        ("post", f"/api/v1/teams/{team_id}/invitations/", {"email": "x@acme.test"}),
        ("patch", f"/api/v1/teams/{team_id}/members/{user_id}/", {"role": "admin"}),
        ("delete", f"/api/v1/teams/{team_id}/members/{user_id}/", {}),
        ("post", f"/api/v1/teams/{team_id}/keys/", {"plan_name": "10RequestPerDay"}),
    ]


def page_urls(team_id: int, user_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/teams/{team_id}/", {}),
        ("post", f"/teams/{team_id}/invite", {"email": "x@acme.test"}),
        ("post", f"/teams/{team_id}/members/{user_id}/role", {"role": "admin"}),
        ("post", f"/teams/{team_id}/members/{user_id}/remove", {}),
        ("post", f"/teams/{team_id}/keys/generate", {"plan_name": "10RequestPerDay"}),
        ("get", f"/teams/{team_id}/usage.csv?member={user_id}", {}),
    ]


def test_outsiders_get_404_on_every_team_url_and_api(team, member, user_factory, client, plans):
    outsider = user_factory("eve@evil.test")
    for method, url, body in team_urls(team.pk, member.pk):
        assert getattr(api(outsider), method)(url, body, format="json").status_code == 404, url
    client.force_login(outsider)
    for method, url, body in page_urls(team.pk, member.pk):
        assert getattr(client, method)(url, body).status_code == 404, url
    assert Membership.objects.filter(team=team).count() == 2 and not ApiKey.objects.exists()
    assert api(outsider).get("/api/v1/teams/").json() == []


def test_members_doing_an_admins_work_get_403(team, user, member, user_factory, client, plans, mailoutbox):
    carol = user_factory("carol@acme.test")
    Membership.objects.create(team=team, user=carol, role=Role.MEMBER)
    for method, url, body in team_urls(team.pk, carol.pk)[1:4]:
        assert getattr(api(member), method)(url, body, format="json").status_code == 403, url
    assert api(member).get(f"/api/v1/teams/{team.pk}/usage/").status_code == 404  # no such URL at all
    csv = client
    csv.force_login(member)
    assert csv.get(f"/teams/{team.pk}/usage.csv?member={carol.pk}").status_code == 403
    assert csv.get(f"/teams/{team.pk}/usage.csv").status_code == 200  # their own
    assert Membership.objects.get(user=carol).role == Role.MEMBER and not mailoutbox
    # ...but a member may see the team, without its invitations, and make their own team key.
    seen = api(member).get(f"/api/v1/teams/{team.pk}/").json()
    assert seen["role"] == "member" and "invitations" not in seen and len(seen["members"]) == 3
    assert api(member).post(f"/api/v1/teams/{team.pk}/keys/", {"plan_name": "10RequestPerDay"}).status_code == 201


def test_roles_keep_an_owner_and_admins_cannot_touch_owners(team, user, member, user_factory):
    admin = user_factory("adm@acme.test")
    Membership.objects.create(team=team, user=admin, role=Role.ADMIN)
    assert api(admin).patch(f"/api/v1/teams/{team.pk}/members/{member.pk}/", {"role": "admin"}).status_code == 200
    refused = api(admin).patch(f"/api/v1/teams/{team.pk}/members/{user.pk}/", {"role": "member"})
    assert refused.status_code == 403 and "owners" in refused.json()["detail"]
    assert api(admin).delete(f"/api/v1/teams/{team.pk}/members/{user.pk}/").status_code == 403
    alone = api(user).patch(f"/api/v1/teams/{team.pk}/members/{user.pk}/", {"role": "member"})
    assert alone.status_code == 409 and "at least one owner" in alone.json()["detail"]
    assert api(user).delete(f"/api/v1/teams/{team.pk}/members/{user.pk}/").status_code == 409  # cannot leave
    assert Membership.objects.get(user=user).role == Role.OWNER
    bad = api(user).patch(f"/api/v1/teams/{team.pk}/members/{member.pk}/", {"role": "king"})
    assert bad.status_code == 400


@pytest.mark.django_db(transaction=True)
async def test_team_keys_of_two_members_share_one_quota(team, user, member, plans, upstream):
    from asgiref.sync import sync_to_async

    from teams.services import team_key_create

    _, alice_key = await sync_to_async(team_key_create)(team=team, user=user, plan_name="10RequestPerDay")
    _, bob_key = await sync_to_async(team_key_create)(team=team, user=member, plan_name="10RequestPerDay")
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    statuses = [(await post_v1(alice_key if n % 2 else bob_key, ask)).status_code for n in range(14)]
    assert statuses.count(200) == 10 and statuses[10:] == [429] * 4
    counter = await QuotaCounter.objects.aget(owner_id=-team.pk)
    assert counter.used == 10 and not await QuotaCounter.objects.filter(owner_id__gt=0).aexists()
    # Their personal quota in the plan is untouched.
    from keys.services import key_create

    _, personal = await sync_to_async(key_create)(owner=user, plan_name="10RequestPerDay")
    assert (await post_v1(personal, ask)).status_code == 200
    duplicate = await sync_to_async(api(user).post)(f"/api/v1/teams/{team.pk}/keys/", {"plan_name": "10RequestPerDay"})
    assert duplicate.status_code == 409


@pytest.mark.django_db(transaction=True)
async def test_removing_a_member_revokes_their_team_keys_at_once(team, user, member, plans, upstream):
    from asgiref.sync import sync_to_async

    from teams.services import team_key_create

    _, bob_key = await sync_to_async(team_key_create)(team=team, user=member, plan_name="10RequestPerDay")
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    assert (await post_v1(bob_key, ask)).status_code == 200  # cached in this process now
    removed = await sync_to_async(api(user).delete)(f"/api/v1/teams/{team.pk}/members/{member.pk}/")
    assert removed.status_code == 204
    assert (await post_v1(bob_key, ask)).status_code == 401
    assert await ApiKey.objects.filter(owner=member, revoked_at__isnull=False).acount() == 1


def test_leaving_revokes_your_team_keys_and_not_your_own(team, member, plans, client):
    from keys.services import key_create
    from teams.services import team_key_create

    team_key, _ = team_key_create(team=team, user=member, plan_name="10RequestPerDay")
    own, _ = key_create(owner=member, plan_name="10RequestPerDay")
    client.force_login(member)
    left = client.post(f"/teams/{team.pk}/members/{member.pk}/remove")
    assert left.status_code == 302 and left["Location"] == "/teams/"
    team_key.refresh_from_db()
    own.refresh_from_db()
    assert team_key.revoked_at is not None and own.revoked_at is None


def test_usage_owners_see_everyone_members_see_themselves_and_the_total(team, user, member, plans, client):
    from keys.metering import utc_today
    from keys.models import DailyUsage
    from teams.services import team_key_create

    alice_key, _ = team_key_create(team=team, user=user, plan_name="10RequestPerDay")
    bob_key, _ = team_key_create(team=team, user=member, plan_name="10RequestPerDay")
    DailyUsage.objects.create(key=alice_key, day=utc_today(), model="m", requests=3, cost_nanos=10**9)
    DailyUsage.objects.create(key=bob_key, day=utc_today(), model="m", requests=4)
    client.force_login(user)
    page = client.get(f"/teams/{team.pk}/").content.decode()
    assert "bob@acme.test" in page and 'class="team-total">7<' in page
    bob_csv = client.get(f"/teams/{team.pk}/usage.csv?member={member.pk}").content.decode()
    assert bob_csv.splitlines()[1].split(",")[4] == "4" and len(bob_csv.splitlines()) == 2
    client.force_login(member)
    page = client.get(f"/teams/{team.pk}/").content.decode()
    assert "alice@example.com</td><td" not in page.replace("\n", "") and 'class="team-total">7<' in page


def test_a_team_is_created_on_its_page_and_named(user, client):
    client.force_login(user)
    assert "not in a team yet" in client.get("/teams/").content.decode()
    assert client.post("/teams/", {"name": "  "}).status_code == 400
    made = client.post("/teams/", {"name": "Research"})
    team = Team.objects.get(name="Research")
    assert made["Location"] == f"/teams/{team.pk}/"
    assert Membership.objects.get(team=team).role == Role.OWNER


def test_team_actions_are_audited(team, user, member, plans):
    from accounts.models import AuditEvent
    from teams.services import member_remove, team_key_create

    team_key_create(team=team, user=member, plan_name="10RequestPerDay")
    member_remove(team=team, by=user, user_id=member.pk)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"team.created", "team.key_created", "team.member_removed", "key.revoked"} <= actions


def test_a_password_log_in_joins_no_domain_team(user_factory, client):
    from allauth.account.signals import user_logged_in

    team = Team.objects.create(name="Corp", email_domain="corp.example")
    ann = user_factory("ann@corp.example")
    user_logged_in.send(sender=type(ann), request=None, user=ann)  # as allauth sends it for a password log-in
    assert not Membership.objects.filter(team=team).exists()


def test_the_member_csv_keeps_a_formula_a_model_name_could_hold_as_text(team, user, member, plans, client):
    from keys.metering import utc_today
    from keys.models import DailyUsage
    from teams.services import team_key_create

    bob_key, _ = team_key_create(team=team, user=member, plan_name="10RequestPerDay")
    DailyUsage.objects.create(key=bob_key, day=utc_today(), model='=HYPERLINK("http://evil")', requests=1)
    client.force_login(user)
    text = client.get(f"/teams/{team.pk}/usage.csv?member={member.pk}").content.decode()
    assert "'=HYPERLINK" in text and ',"=HYPERLINK' not in text


def test_an_unconfirmed_address_cannot_accept(user, team, user_factory):
    from allauth.account.models import EmailAddress

    token = invite(team, user, "dave@acme.test")
    dave = user_factory("dave@acme.test")
    EmailAddress.objects.filter(user=dave).update(verified=False)  # typed at sign-up, never confirmed
    answer = api(dave).post(f"/api/v1/invitations/{token}/accept/")
    assert answer.status_code == 403 and answer.json()["code"] == "email_unverified"
    assert Invitation.objects.get().accepted_at is None  # still usable once confirmed
    EmailAddress.objects.filter(user=dave).update(verified=True)
    assert api(dave).post(f"/api/v1/invitations/{token}/accept/").status_code == 200


def test_an_invitation_raises_a_domain_members_role(user, team, user_factory):
    token = invite(team, user, "dave@acme.test", role=Role.ADMIN)
    dave = user_factory("dave@acme.test")
    Membership.objects.create(team=team, user=dave, role=Role.MEMBER)  # joined by SSO meanwhile
    assert api(dave).post(f"/api/v1/invitations/{token}/accept/").json()["role"] == "admin"


def test_a_bad_address_or_a_failing_mail_makes_no_invitation(user, team, monkeypatch):
    assert api(user).post(f"/api/v1/teams/{team.pk}/invitations/", {"email": "@"}).status_code == 400

    def down(*args, **kwargs):
        raise OSError("mail server away")

    monkeypatch.setattr("teams.services.send_mail", down)
    answer = api(user).post(f"/api/v1/teams/{team.pk}/invitations/", {"email": "eve@acme.test"})
    assert answer.status_code == 503 and "no invitation was made" in answer.json()["detail"]
    assert not Invitation.objects.filter(cancelled_at__isnull=True).exists()


def test_team_keys_are_refused_where_api_gateway_admits(team, user, plans, monkeypatch):
    from keys.backends.local import LocalKeyBackend
    from keys.exceptions import NeedsOwnGateway
    from teams.services import team_key_create

    monkeypatch.setattr(LocalKeyBackend, "external_gateway_url", lambda self: "https://gw.example/v1")
    with pytest.raises(NeedsOwnGateway):
        team_key_create(team=team, user=user, plan_name="10RequestPerDay")
    assert not ApiKey.objects.exists()


def test_owners_limit_and_revoke_a_members_team_key_and_members_cannot_touch_others(
    team, user, member, user_factory, plans, client
):
    from teams.services import team_key_create

    bob_key, _ = team_key_create(team=team, user=member, plan_name="10RequestPerDay")
    url = f"/api/v1/teams/{team.pk}/keys/{bob_key.pk}/"
    carol = user_factory("carol@acme.test")
    Membership.objects.create(team=team, user=carol)
    assert api(carol).patch(url, {"max_requests": 1}, format="json").status_code == 404  # another member's
    assert api(user_factory("eve@evil.test")).delete(url).status_code == 404
    limited = api(user).patch(url, {"max_requests": 3}, format="json")
    assert limited.status_code == 200 and limited.json()["max_requests"] == 3
    client.force_login(user)
    page = client.get(f"/teams/{team.pk}/").content.decode()
    assert f"/teams/{team.pk}/keys/{bob_key.pk}/revoke" in page
    assert client.post(f"/teams/{team.pk}/keys/{bob_key.pk}/revoke").status_code == 302
    bob_key.refresh_from_db()
    assert bob_key.revoked_at is not None and bob_key.max_requests == 3


@pytest.mark.parametrize(
    ("was", "now", "inviting"),
    [(Role.ADMIN, Role.MEMBER, Role.MEMBER), (Role.OWNER, Role.ADMIN, Role.OWNER)],
)
def test_an_inviter_demoted_while_inviting_is_refused_by_the_role_read_under_the_lock(
    user, team, user_factory, monkeypatch, was, now, inviting
):
    from teams import services
    from teams.services import NotAllowed

    carol = user_factory("carol@acme.test")
    membership = Membership.objects.create(team=team, user=carol, role=was)
    stale = Membership.objects.get(pk=membership.pk)  # what the unlocked check read, a moment before

    def demoted_meanwhile(team_, by):
        Membership.objects.filter(pk=membership.pk).update(role=now)  # another request's commit
        return stale

    monkeypatch.setattr(services, "_managing", demoted_meanwhile)
    with pytest.raises(NotAllowed):
        invitation_create(team=team, by=carol, email="dan@acme.test", role=inviting, link_for=link)
    assert not Invitation.objects.exists()


def test_admins_cannot_invite_owners(user, team, user_factory):
    carol = user_factory("carol@acme.test")
    Membership.objects.create(team=team, user=carol, role=Role.ADMIN)
    answer = api(carol).post(f"/api/v1/teams/{team.pk}/invitations/", {"email": "dan@acme.test", "role": "owner"})
    assert answer.status_code == 403 and "Only owners may invite owners" in str(answer.json())
    assert api(carol).post(f"/api/v1/teams/{team.pk}/invitations/", {"email": "dan@acme.test"}).status_code == 201
