"""Whose rows a reader of the log asks for: their own, or a team's that they own or administer."""

from django.contrib.auth.base_user import AbstractBaseUser

from teams.exceptions import NotAllowed
from teams.selectors import membership_get


def rows_scope(*, user: AbstractBaseUser, team: int | None) -> dict:
    """request_filter's and request_page's scope: TeamNotFound (404) outside the team, NotAllowed (403)
    for a member who does not manage it."""
    if team is None:
        return {"user_id": user.pk}
    membership = membership_get(team_id=team, user=user)
    if not membership.manages:
        raise NotAllowed()
    return {"user_id": None, "team_id": team}
