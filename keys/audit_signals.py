"""Account events for the audit trail, from the signals Django and allauth send."""

from allauth.account.signals import user_signed_up
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from keys.audit import audit_record


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
