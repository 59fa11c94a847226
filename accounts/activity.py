"""The audit trail as the user reads it: one translated sentence per event, never an action code."""

from django.utils.translation import gettext as _

from accounts.models import AuditEvent


def _sentences() -> dict[str, str]:
    # Built per call, not at import: each is translated into the language of the page asking.
    return {
        "account.signed_up": _("Signed up as %(target)s."),
        "account.logged_in": _("Signed in as %(target)s."),
        "account.login_failed": _("A sign-in as %(target)s failed: wrong email or password."),
        "key.created": _("Key %(target)s created in plan %(detail)s."),
        "key.revoked": _("Key %(target)s revoked (plan %(detail)s). It no longer works."),
        "key.expired": _("Key %(target)s expired (plan %(detail)s)."),
        "key.rotated": _("Key %(target)s rotated: %(detail)s replaces it."),
        "key.switched": _("Key %(target)s moved to another plan: %(detail)s."),
        "key.scoped": _("Key %(target)s limited: %(detail)s changed."),
        "team.created": _("Team %(target)s created."),
        "team.invited": _("%(detail)s invited to team %(target)s."),
        "team.invitation_cancelled": _("The invitation of %(detail)s to team %(target)s cancelled."),
        "team.joined": _("Joined team %(target)s as %(detail)s."),
        "team.role_changed": _("A role in team %(target)s changed: %(detail)s."),
        "team.member_removed": _("Removed from team %(target)s: %(detail)s. Their team keys no longer work."),
        "team.left": _("Left team %(target)s. Team keys no longer work."),
        "team.key_created": _("Team key %(detail)s created in team %(target)s."),
        "plans.synced": _("Plans synced to %(target)s: %(detail)s."),
        "admin.added": _("Staff added %(target)s in the admin."),
        "admin.changed": _("Staff changed %(target)s in the admin."),
        "admin.deleted": _("Staff deleted %(target)s in the admin."),
        "plan.created": _("Plan %(target)s created."),
        "plan.edited": _("Plan %(target)s edited."),
        "plan.retired": _("Plan %(target)s retired: it is no longer offered for new keys."),
    }


def audit_sentence(event: AuditEvent) -> str:
    """What happened, as a sentence in the current language; an unknown action still reads as one."""
    sentence = _sentences().get(event.action, _("A change to your account: %(target)s."))
    return sentence % {"target": event.target or "—", "detail": event.detail or "—"}


def audit_detail_shown(event: AuditEvent) -> str:
    """The detail when the sentence does not already say it (staff's change messages)."""
    return event.detail if event.action.startswith("admin.") else ""
