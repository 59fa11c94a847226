"""URLs of the team pages, the invitation link and the teams REST API."""

from django.urls import path

from teams import api, views

urlpatterns = [
    path("teams/", views.teams_page, name="teams"),
    path("teams/<int:pk>/", views.team_page, name="team"),
    path("teams/<int:pk>/invite", views.team_invite, name="team-invite"),
    path(
        "teams/<int:pk>/invitations/<int:invitation_id>/cancel", views.invitation_cancel, name="team-invitation-cancel"
    ),
    path("teams/<int:pk>/members/<int:user_id>/role", views.member_role, name="team-member-role"),
    path("teams/<int:pk>/members/<int:user_id>/remove", views.member_remove, name="team-member-remove"),
    path("teams/<int:pk>/keys/generate", views.team_key_generate, name="team-key-generate"),
    path("teams/<int:pk>/keys/<int:key_id>/revoke", views.team_key_revoke, name="team-key-revoke"),
    path("teams/<int:pk>/keys/<int:key_id>/scopes", views.team_key_scopes, name="team-key-scopes"),
    path("teams/<int:pk>/usage.csv", views.member_usage_csv, name="team-usage-csv"),
    path("invitations/<str:token>/", views.invitation_page, name="invitation"),
    path("api/v1/teams/", api.TeamListCreate.as_view(), name="api-teams"),
    path("api/v1/teams/<int:pk>/", api.TeamDetail.as_view(), name="api-team"),
    path("api/v1/teams/<int:pk>/invitations/", api.InvitationCreate.as_view(), name="api-team-invitations"),
    path("api/v1/teams/<int:pk>/members/<int:user_id>/", api.MemberDetail.as_view(), name="api-team-member"),
    path("api/v1/teams/<int:pk>/keys/", api.TeamKeyCreate.as_view(), name="api-team-keys"),
    path("api/v1/teams/<int:pk>/keys/<int:key_id>/", api.TeamKeyDetail.as_view(), name="api-team-key"),
    path("api/v1/invitations/<str:token>/accept/", api.InvitationAccept.as_view(), name="api-invitation-accept"),
]
