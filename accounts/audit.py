"""The audit trail: record who did what to which target. Request context (who, from where) comes
from portal's middleware through context variables, so services need not be handed the request."""

import contextvars
import logging

from django.contrib.auth.base_user import AbstractBaseUser

from accounts.models import AuditEvent

logger = logging.getLogger(__name__)
current_actor: contextvars.ContextVar[AbstractBaseUser | None] = contextvars.ContextVar("actor", default=None)
current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("ip", default=None)


def audit_record(
    *,
    action: str,
    target: str = "",
    subject: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
    detail: str = "",
) -> None:
    """Append one event. A failure to record is logged, never raised: the action itself happened."""
    actor = actor or current_actor.get()
    if actor is not None and not actor.is_authenticated:
        actor = None
    try:
        AuditEvent.objects.create(
            actor=actor,
            actor_email=getattr(actor, "email", "") or "",
            subject=subject or actor,
            action=action,
            target=target[:200],
            detail=detail[:300],
            ip=current_ip.get(),
        )
    except Exception:
        logger.exception("could not record the audit event %s %s", action, target)
