"""Errors the team services raise: each carries the HTTP status, a code, and the message users see."""

from django.utils.translation import gettext_lazy as _

from plumbing.errors import ServiceError


class TeamError(ServiceError):
    """An error of the team services."""


class TeamNotFound(TeamError):
    """Also what outsiders get for a team that exists: they cannot tell."""

    status = 404
    code = "not_found"
    message = _("No such team.")


class NotAllowed(TeamError):
    status = 403
    code = "forbidden"
    message = _("Only the team's owners and admins may do that.")


class Conflict(TeamError):
    status = 409
    code = "conflict"


class InvitationGone(TeamError):
    status = 410
    code = "invitation_gone"
    message = _("This invitation has expired or was already used. Ask the team for a new one.")


class WrongInvitee(TeamError):
    status = 403
    code = "wrong_invitee"
    message = _("This invitation is for another email address. Log in with the address it was sent to.")


class EmailUnverified(TeamError):
    status = 403
    code = "email_unverified"
    message = _(
        "Confirm your email address first: your account page sends the confirmation mail. "
        "Then open the invitation link again."
    )


class MailFailed(TeamError):
    status = 503
    code = "mail_failed"
    message = _("The invitation mail could not be sent just now, so no invitation was made. Try again shortly.")
