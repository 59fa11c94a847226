"""Changes to teams: create, invite, accept, roles, removal, team keys. Each checks who may do it."""

import hashlib
import logging
import secrets
from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record
from keys.models import ApiKey
from keys.services import key_create, key_revoke, key_scopes_set
from teams.exceptions import (
    Conflict,
    EmailUnverified,
    InvitationGone,
    MailFailed,
    NotAllowed,
    TeamError,
    TeamNotFound,
    WrongInvitee,
)
from teams.models import Invitation, Membership, Role, Team
from teams.selectors import id_valid, membership_get

logger = logging.getLogger(__name__)
NAME_MAX = 80


ROLE_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}


def token_hash(token: str) -> str:
    """What is kept of an invitation's token: the link in the mail is the only copy of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _name_clean(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TeamError(_("A team needs a name."))
    name = name.replace("\x00", "").strip()
    if len(name) > NAME_MAX:
        raise TeamError(format_lazy(_("A team's name may be at most {most} characters."), most=NAME_MAX))
    return name


def _role_clean(role: object) -> str:
    if role not in Role.values:
        raise TeamError(_("The role must be owner, admin or member."))
    return role


def team_create(*, owner: AbstractBaseUser, name: object) -> Team:
    """A new team, with `owner` as its first owner."""
    with transaction.atomic():
        team = Team.objects.create(name=_name_clean(name))
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit_record(action="team.created", target=team.name, actor=owner)
    return team


def _managing(team: Team, by: AbstractBaseUser) -> Membership:
    membership = membership_get(team_id=team.pk, user=by)
    if not membership.manages:
        raise NotAllowed()
    return membership


def _team_locked(team: Team, by: AbstractBaseUser) -> Membership:
    """In a transaction: lock the team (one lock per team, so changes to its members take turns and
    never deadlock), then read the acting member's role as it is now."""
    Team.objects.select_for_update().filter(pk=team.pk).first()
    return membership_get(team_id=team.pk, user=by)


OPEN_INVITATIONS_MAX = 100


def invitation_create(
    *, team: Team, by: AbstractBaseUser, email: object, role: object = Role.MEMBER, link_for: Callable[[str], str]
) -> Invitation:
    """Invite `email` as `role` and mail them the link `link_for(token)`; the token is never stored.
    An open invitation to the same address is replaced (its link stops working)."""
    inviter = _managing(team, by)  # refused before any work; checked again under the lock below
    role = _role_clean(role)
    if role == Role.OWNER and inviter.role != Role.OWNER:
        raise NotAllowed(_("Only owners may invite owners."))
    email = email.strip().lower() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        raise TeamError(_("Give the email address to invite, such as ana@example.com.")) from None
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise Conflict(format_lazy(_("{email} is already in the team."), email=email))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # The inviter's role as it is now: a demotion that committed a moment ago counts.
        inviter = _team_locked(team, by)
        if not inviter.manages:
            raise NotAllowed()
        if role == Role.OWNER and inviter.role != Role.OWNER:
            raise NotAllowed(_("Only owners may invite owners."))
        open_ones = Invitation.objects.filter(team=team, accepted_at__isnull=True, cancelled_at__isnull=True)
        open_ones.filter(email=email).update(cancelled_at=timezone.now())
        if open_ones.filter(expires_at__gt=timezone.now()).count() >= OPEN_INVITATIONS_MAX:
            raise Conflict(
                format_lazy(_("A team may have {most} open invitations; cancel some first."), most=OPEN_INVITATIONS_MAX)
            )
        invitation = Invitation.objects.create(
            team=team, email=email, role=role, token_hash=token_hash(token), invited_by=by
        )
    # Sent after the commit, so no database lock waits on the mail server; a mail that cannot go
    # cancels its invitation, which nobody received.
    context = {"team": team, "inviter": by, "link": link_for(token), "invitation": invitation}
    try:
        subject = render_to_string("teams/email/invitation_subject.txt", context).strip()
        body = render_to_string("teams/email/invitation.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    except Exception as exc:
        Invitation.objects.filter(pk=invitation.pk).update(cancelled_at=timezone.now())
        logger.warning("could not mail the invitation to team %s: %s", team.pk, exc)
        raise MailFailed() from exc
    audit_record(action="team.invited", target=team.name, actor=by, detail=f"{email} ({role})")
    return invitation


def invitation_cancel(*, team: Team, by: AbstractBaseUser, invitation_id: int) -> None:
    """Cancel an open invitation: its link stops working."""
    _managing(team, by)
    invitation = Invitation.objects.filter(
        team=team,
        pk=invitation_id if id_valid(invitation_id) else 0,
        accepted_at__isnull=True,
        cancelled_at__isnull=True,
    ).first()
    if invitation is None:
        raise InvitationGone()
    invitation.cancelled_at = timezone.now()
    invitation.save(update_fields=["cancelled_at"])
    audit_record(action="team.invitation_cancelled", target=team.name, actor=by, detail=invitation.email)


def invitation_find(*, token: str) -> Invitation:
    """The open invitation the token is for; InvitationGone if it expired, was used or never was."""
    invitation = Invitation.objects.select_related("team").filter(token_hash=token_hash(token or "")).first()
    if invitation is None or not invitation.is_open:
        raise InvitationGone()
    return invitation


def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Join the team by the invitation, once, as the address it was sent to."""
    with transaction.atomic():
        invitation = invitation_find(token=token)
        # Row lock: two accepts at once cannot both use it.
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_open:
            raise InvitationGone()
        if (user.email or "").lower() != invitation.email.lower():
            raise WrongInvitee()
        if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
            raise EmailUnverified()  # anyone can type an address; only its owner can confirm it
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        membership, created = Membership.objects.get_or_create(
            team=invitation.team, user=user, defaults={"role": invitation.role}
        )
        if not created and ROLE_RANK[invitation.role] > ROLE_RANK[membership.role]:
            membership.role = invitation.role  # already in (by a domain, say): the invitation's role still counts
            membership.save(update_fields=["role"])
    audit_record(action="team.joined", target=invitation.team.name, actor=user, detail=membership.role)
    return membership


def member_role_set(*, team: Team, by: AbstractBaseUser, user_id: int, role: object) -> Membership:
    """Change a member's role. Admins manage members and admins; only owners make or unmake owners.
    A team always keeps at least one owner."""
    role = _role_clean(role)
    with transaction.atomic():
        acting = _team_locked(team, by)
        if not acting.manages:
            raise NotAllowed()
        target = _member_locked(team, user_id)
        if Role.OWNER in (role, target.role) and acting.role != Role.OWNER:
            raise NotAllowed(_("Only owners may make or unmake owners."))
        if target.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(team, leaving=target)
        old, target.role = target.role, role
        target.save(update_fields=["role"])
    audit_record(
        action="team.role_changed",
        target=team.name,
        actor=by,
        subject=target.user,
        detail=f"{target.user.email}: {old} → {role}",
    )
    return target


def member_remove(*, team: Team, by: AbstractBaseUser, user_id: int) -> None:
    """Take a member out of the team; their team keys stop working at once. Removing yourself is leaving."""
    if user_id == by.pk:
        return team_leave(team=team, user=by)
    with transaction.atomic():
        acting = _team_locked(team, by)
        if not acting.manages:
            raise NotAllowed()
        target = _member_locked(team, user_id)
        if target.role == Role.OWNER and acting.role != Role.OWNER:
            raise NotAllowed(_("Only owners may remove owners."))
        if target.role == Role.OWNER:
            _keep_an_owner(team, leaving=target)
        target.delete()
        _revoke_team_keys(team, target.user)
    audit_record(
        action="team.member_removed", target=team.name, actor=by, subject=target.user, detail=target.user.email
    )


def team_leave(*, team: Team, user: AbstractBaseUser) -> None:
    """Leave the team; your team keys stop working at once. The last owner cannot leave."""
    with transaction.atomic():
        _team_locked(team, user)
        membership = _member_locked(team, user.pk)
        if membership.role == Role.OWNER:
            _keep_an_owner(team, leaving=membership)
        membership.delete()
        _revoke_team_keys(team, user)
    audit_record(action="team.left", target=team.name, actor=user)


def team_key_create(
    *, team: Team, user: AbstractBaseUser, plan_name: str, label: str = "", expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """A member's key drawing on the team's shared quota in the plan; one active per member and plan."""
    membership_get(team_id=team.pk, user=user)
    key, plaintext = key_create(
        owner=user, plan_name=plan_name, label=label, expires_in_days=expires_in_days, team_id=team.pk
    )
    audit_record(action="team.key_created", target=team.name, actor=user, detail=key.public_prefix)
    return key, plaintext


def _team_key(team: Team, by: AbstractBaseUser, key_id: int) -> ApiKey:
    """A key of the team that `by` may manage: their own, or any member's if they own or run the team."""
    membership = membership_get(team_id=team.pk, user=by)
    key = ApiKey.objects.select_related("plan", "owner").filter(team=team, pk=key_id if id_valid(key_id) else 0).first()
    if key is None or (key.owner_id != by.pk and not membership.manages):
        raise TeamNotFound(_("No such key in this team."))
    return key


def team_key_revoke(*, team: Team, by: AbstractBaseUser, key_id: int) -> ApiKey:
    """Revoke a team key: a member's own, or any of the team's by its owners and admins."""
    return key_revoke(key=_team_key(team, by, key_id))


def team_key_scopes_set(*, team: Team, by: AbstractBaseUser, key_id: int, **scopes) -> ApiKey:
    """Limit a team key (addresses, models, its own cap): so owners and admins can hold a member's key
    to a smaller share of the team's quota."""
    return key_scopes_set(key=_team_key(team, by, key_id), **scopes)


def teams_join_by_email_domain(*, user: AbstractBaseUser, email: str) -> list[Team]:
    """Make `user` a member of every team naming the domain of `email` (a verified address); the teams joined."""
    domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
    if not domain:
        return []
    joined = []
    for team in Team.objects.filter(email_domain=domain):
        try:
            with transaction.atomic():
                _, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.MEMBER})
        except IntegrityError:
            continue  # joined at the same moment by another request
        if created:
            joined.append(team)
            audit_record(action="team.joined", target=team.name, actor=user, detail=f"{Role.MEMBER} ({domain})")
    return joined


def _member_locked(team: Team, user_id: int) -> Membership:
    if not id_valid(user_id):
        raise TeamError(_("That person is not in the team."))
    target = Membership.objects.select_for_update().select_related("user").filter(team=team, user_id=user_id).first()
    if target is None:
        raise TeamError(_("That person is not in the team."))
    return target


def _keep_an_owner(team: Team, *, leaving: Membership) -> None:
    owners = list(
        Membership.objects.select_for_update().filter(team=team, role=Role.OWNER).values_list("pk", flat=True)
    )
    if owners == [leaving.pk]:
        raise Conflict(_("A team needs at least one owner: make someone else an owner first."))


def _revoke_team_keys(team: Team, user: AbstractBaseUser) -> None:
    for key in ApiKey.objects.filter(team=team, owner=user, revoked_at__isnull=True).select_related("plan"):
        key_revoke(key=key)
