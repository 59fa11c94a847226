"""Template tags for the account pages."""

from allauth.account.models import EmailAddress
from django import template
from django.contrib.auth.base_user import AbstractBaseUser

register = template.Library()


@register.simple_tag
def emails_awaiting_confirmation(user: AbstractBaseUser) -> list[str]:
    """The user's unconfirmed addresses, primary first: allauth refuses two-factor while any is left."""
    if not getattr(user, "is_authenticated", False):
        return []
    unconfirmed = EmailAddress.objects.filter(user=user, verified=False).order_by("-primary", "email")
    return list(unconfirmed.values_list("email", flat=True))
