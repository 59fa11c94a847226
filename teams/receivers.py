"""Teams react to accounts: people who sign in by single sign-on with a verified address join its domain's teams."""

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

from teams.services import teams_join_by_email_domain


@receiver(user_logged_in)
def join_domain_teams(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is None:  # a password log-in proves no address to a team
        return
    for address in getattr(sociallogin, "email_addresses", None) or ():
        if address.verified and address.email:
            teams_join_by_email_domain(user=user, email=address.email)
