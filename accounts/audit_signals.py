"""Events for the audit trail, from the signals Django, allauth and keys send."""

from allauth.account.signals import user_signed_up
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.audit import audit_record
from keys.signals import (
    key_created,
    key_revoked,
    key_rotated,
    key_scoped,
    key_switched,
    plan_saved,
    plans_synced,
)


@receiver(user_signed_up)
def on_signed_up(sender, request, user, **kwargs) -> None:
    audit_record(action="account.signed_up", target=user.email, actor=user)


@receiver(user_logged_in)
def on_logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action="account.logged_in", target=user.email, actor=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Django has already taken the password out of `credentials`; only the name tried remains.
    tried = str(credentials.get("email") or credentials.get("username") or credentials.get("login") or "")[:200]
    subject = get_user_model().objects.filter(email__iexact=tried).first() if tried else None
    audit_record(action="account.login_failed", target=tried, subject=subject, actor=None)


@receiver(post_save, sender=LogEntry)
def on_admin_action(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if created:
        kind = {1: "added", 2: "changed", 3: "deleted"}.get(instance.action_flag, "changed")
        target = f"{instance.content_type.model if instance.content_type else ''} {instance.object_repr}".strip()
        audit_record(action=f"admin.{kind}", target=target, actor=instance.user, detail=instance.get_change_message())


@receiver(key_created)
def on_key_created(sender, key, **kwargs) -> None:
    audit_record(action="key.created", target=key.public_prefix, subject=key.owner, detail=key.plan.name)


@receiver(key_revoked)
def on_key_revoked(sender, key, because: str, **kwargs) -> None:
    audit_record(action=f"key.{because}", target=key.public_prefix, subject=key.owner, detail=key.plan.name)


@receiver(key_rotated)
def on_key_rotated(sender, key, new_key, **kwargs) -> None:
    audit_record(action="key.rotated", target=key.public_prefix, subject=key.owner, detail=new_key.public_prefix)


@receiver(key_switched)
def on_key_switched(sender, key, old_plan, **kwargs) -> None:
    detail = f"{old_plan.name} → {key.plan.name}"
    audit_record(action="key.switched", target=key.public_prefix, subject=key.owner, detail=detail)


@receiver(key_scoped)
def on_key_scoped(sender, key, fields: list[str], **kwargs) -> None:
    audit_record(action="key.scoped", target=key.public_prefix, subject=key.owner, detail=", ".join(fields))


@receiver(plan_saved)
def on_plan_saved(sender, plan, change: str, fields: list[str], actor=None, **kwargs) -> None:
    audit_record(action=f"plan.{change}", target=plan.name, actor=actor, detail=", ".join(fields)[:300])


@receiver(plans_synced)
def on_plans_synced(sender, summary: str, actor=None, **kwargs) -> None:
    audit_record(action="plans.synced", target="API Gateway", actor=actor, detail=summary)
