"""A user's settings and the audit trail of who did what."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AccountSettings(models.Model):
    """A user's choices about Tollgate's mail."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tollgate_settings", verbose_name=_("user")
    )
    usage_alerts = models.BooleanField(
        default=True, help_text=_("Mail me at 80% and 100% of a key's day."), verbose_name=_("usage alerts")
    )
    language = models.CharField(
        verbose_name=_("language"),
        max_length=16,
        blank=True,
        default="",
        help_text=_("The language Tollgate mails in; blank for the site's."),
    )

    class Meta:
        verbose_name = _("account settings")
        verbose_name_plural = _("account settings")
        db_table = "keys_accountsettings"  # made by keys before accounts had an app of its own

    def __str__(self) -> str:
        return f"settings of {self.user}"


# The trail shows each action by its code; the code is also its English name, so English pages keep it.
AUDIT_ACTION_NAMES = {
    "account.signed_up": pgettext_lazy("audit action", "account.signed_up"),
    "account.logged_in": pgettext_lazy("audit action", "account.logged_in"),
    "account.login_failed": pgettext_lazy("audit action", "account.login_failed"),
    "key.created": pgettext_lazy("audit action", "key.created"),
    "key.revoked": pgettext_lazy("audit action", "key.revoked"),
    "key.expired": pgettext_lazy("audit action", "key.expired"),
    "key.rotated": pgettext_lazy("audit action", "key.rotated"),
    "key.switched": pgettext_lazy("audit action", "key.switched"),
    "key.scoped": pgettext_lazy("audit action", "key.scoped"),
    "team.created": pgettext_lazy("audit action", "team.created"),
    "team.invited": pgettext_lazy("audit action", "team.invited"),
    "team.invitation_cancelled": pgettext_lazy("audit action", "team.invitation_cancelled"),
    "team.joined": pgettext_lazy("audit action", "team.joined"),
    "team.role_changed": pgettext_lazy("audit action", "team.role_changed"),
    "team.member_removed": pgettext_lazy("audit action", "team.member_removed"),
    "team.left": pgettext_lazy("audit action", "team.left"),
    "team.key_created": pgettext_lazy("audit action", "team.key_created"),
    "plans.synced": pgettext_lazy("audit action", "plans.synced"),
    "admin.added": pgettext_lazy("audit action", "admin.added"),
    "admin.changed": pgettext_lazy("audit action", "admin.changed"),
    "admin.deleted": pgettext_lazy("audit action", "admin.deleted"),
    "plan.created": pgettext_lazy("audit action", "plan.created"),
    "plan.edited": pgettext_lazy("audit action", "plan.edited"),
    "plan.retired": pgettext_lazy("audit action", "plan.retired"),
}


class AuditEvent(models.Model):
    """Who did what to which target, when and from where. Append-only, and never holds a secret."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_email = models.CharField(
        max_length=254, blank=True, help_text=_("Kept if the account is deleted."), verbose_name=_("actor email")
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The user whose account or key it concerns."),
        verbose_name=_("subject"),
    )
    action = models.CharField(max_length=40, db_index=True, verbose_name=_("action"))
    target = models.CharField(max_length=200, blank=True, verbose_name=_("target"))
    detail = models.CharField(max_length=300, blank=True, verbose_name=_("detail"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        db_table = "keys_auditevent"  # made by keys before accounts had an app of its own
        ordering = ["-created_at", "-id"]
        # The admin's list, newest first, and its search by whole values.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="auditevent_newest_first"),
            models.Index(Upper("actor_email"), name="auditevent_actor_email_upper"),
            models.Index(fields=["target"], name="auditevent_target"),
            models.Index(fields=["ip"], name="auditevent_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action} {self.target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events cannot be deleted.")

    @property
    def action_name(self) -> str:
        return AUDIT_ACTION_NAMES.get(self.action, self.action)
