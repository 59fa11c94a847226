"""The teams REST API under /api/v1/: outsiders get 404, members doing an admin's work 403."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from keys.exceptions import KeyServiceError
from keys.serializers import KeyOut, KeyScopesIn, MessageOut
from teams import selectors, services
from teams.exceptions import NotAllowed, TeamError
from teams.models import Membership, Role, Team
from teams.urls_for import invitation_link

ERRORS = {code: OpenApiResponse(MessageOut) for code in (400, 403, 404, 409, 410)}


def _error(exc: TeamError | KeyServiceError) -> Response:
    return Response({"detail": str(exc.message), "message": str(exc.message), "code": exc.code}, status=exc.status)


class TeamIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class MemberOut(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["user_id", "email", "role", "joined_at"]


class TeamOut(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "email_domain", "created_at"]


class InvitationIn(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()


class RoleIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class TeamKeyIn(serializers.Serializer):
    plan_name = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True, default=None)


def _team_body(membership: Membership) -> dict:
    body = {**TeamOut(membership.team).data, "role": membership.role}
    body["members"] = MemberOut(selectors.team_members(team_id=membership.team_id), many=True).data
    if membership.manages:
        body["invitations"] = InvitationOut(selectors.team_invitations_open(team_id=membership.team_id), many=True).data
    return body


def _managed(pk: int, request: Request) -> Team:
    """The team, for its owners and admins: 404 for outsiders, 403 for members, before any input is read."""
    membership = selectors.membership_get(team_id=pk, user=request.user)
    if not membership.manages:
        raise NotAllowed()
    return membership.team


class TeamListCreate(APIView):
    @extend_schema(responses=TeamOut(many=True))
    def get(self, request: Request) -> Response:
        memberships = selectors.memberships_of(user=request.user)
        return Response([{**TeamOut(m.team).data, "role": m.role} for m in memberships])

    @extend_schema(request=TeamIn, responses={201: TeamOut, **ERRORS})
    def post(self, request: Request) -> Response:
        data = TeamIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            team = services.team_create(owner=request.user, name=data.validated_data["name"])
        except TeamError as exc:
            return _error(exc)
        return Response(_team_body(selectors.membership_get(team_id=team.pk, user=request.user)), status=201)


class TeamDetail(APIView):
    @extend_schema(responses={200: TeamOut, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        try:
            return Response(_team_body(selectors.membership_get(team_id=pk, user=request.user)))
        except TeamError as exc:
            return _error(exc)


class InvitationCreate(APIView):
    @extend_schema(request=InvitationIn, responses={201: InvitationOut, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        try:
            team = _managed(pk, request)
            data = InvitationIn(data=request.data)
            data.is_valid(raise_exception=True)
            invitation = services.invitation_create(
                team=team,
                by=request.user,
                email=data.validated_data["email"],
                role=data.validated_data["role"],
                link_for=lambda token: invitation_link(request, token),
            )
        except TeamError as exc:
            return _error(exc)
        return Response(InvitationOut(invitation).data, status=status.HTTP_201_CREATED)


class InvitationAccept(APIView):
    @extend_schema(request=None, responses={200: TeamOut, **ERRORS})
    def post(self, request: Request, token: str) -> Response:
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except TeamError as exc:
            return _error(exc)
        return Response(_team_body(membership))


class MemberDetail(APIView):
    @extend_schema(request=RoleIn, responses={200: MemberOut, **ERRORS})
    def patch(self, request: Request, pk: int, user_id: int) -> Response:
        try:
            team = _managed(pk, request)
            data = RoleIn(data=request.data)
            data.is_valid(raise_exception=True)
            membership = services.member_role_set(
                team=team, by=request.user, user_id=user_id, role=data.validated_data["role"]
            )
        except TeamError as exc:
            return _error(exc)
        return Response(MemberOut(membership).data)

    @extend_schema(request=None, responses={204: None, **ERRORS})
    def delete(self, request: Request, pk: int, user_id: int) -> Response:
        try:
            team = selectors.membership_get(team_id=pk, user=request.user).team
            services.member_remove(team=team, by=request.user, user_id=user_id)
        except (TeamError, KeyServiceError) as exc:
            return _error(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamKeyCreate(APIView):
    @extend_schema(request=TeamKeyIn, responses={201: KeyOut, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        try:
            team = selectors.membership_get(team_id=pk, user=request.user).team
            data = TeamKeyIn(data=request.data)
            data.is_valid(raise_exception=True)
            key, plaintext = services.team_key_create(team=team, user=request.user, **data.validated_data)
        except (TeamError, KeyServiceError) as exc:
            return _error(exc)
        return Response({**KeyOut(key).data, "value": plaintext}, status=status.HTTP_201_CREATED)


class TeamKeyDetail(APIView):
    """A team key, for its holder and the team's owners and admins: limit it (PATCH) or revoke it (DELETE)."""

    @extend_schema(request=KeyScopesIn, responses={200: KeyOut, **ERRORS})
    def patch(self, request: Request, pk: int, key_id: int) -> Response:
        try:
            team = selectors.membership_get(team_id=pk, user=request.user).team
            data = KeyScopesIn(data=request.data)
            data.is_valid(raise_exception=True)
            key = services.team_key_scopes_set(team=team, by=request.user, key_id=key_id, **data.validated_data)
        except (TeamError, KeyServiceError) as exc:
            return _error(exc)
        return Response(KeyOut(key).data)

    @extend_schema(request=None, responses={200: KeyOut, **ERRORS})
    def delete(self, request: Request, pk: int, key_id: int) -> Response:
        try:
            team = selectors.membership_get(team_id=pk, user=request.user).team
            key = services.team_key_revoke(team=team, by=request.user, key_id=key_id)
        except (TeamError, KeyServiceError) as exc:
            return _error(exc)
        return Response(KeyOut(key).data)
