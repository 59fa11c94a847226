"""JSON APIs: the seed's /plan and /create_key, and the REST API under /api/v1/."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from keys import selectors, services
from keys.exceptions import ForeignAccount, KeyBackendError, KeyServiceError
from keys.serializers import (
    CreateKeyIn,
    CreateKeyOut,
    KeyCreatedOut,
    KeyCreateIn,
    KeyOut,
    KeyScopesIn,
    KeySwitchIn,
    MessageOut,
    PlanOut,
)

ERRORS = {code: OpenApiResponse(MessageOut) for code in (400, 403, 404, 409, 500)}


def error_response(exc: KeyServiceError, *, operation: str = "create") -> Response:
    """The error as JSON; a backend failure says which operation failed, in the seed's shape."""
    if isinstance(exc, KeyBackendError):
        # The seed's front end reads "message": "create failed"; revoke and rotate say their own.
        return Response({"message": f"{operation} failed", "detail": exc.message}, status=500)
    return Response({"detail": exc.message, "message": exc.message}, status=exc.status)


class SeedPlanList(APIView):
    """GET /plan: the plans users may pick (the seed's shape, with extra fields)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=PlanOut(many=True), operation_id="seed_plan_list")
    def get(self, request: Request) -> Response:
        return Response(PlanOut(selectors.plan_list(), many=True).data)


class SeedCreateKey(APIView):
    """POST /create_key: a key for the logged-in user in the named plan."""

    @extend_schema(request=CreateKeyIn, responses={200: CreateKeyOut, **ERRORS}, operation_id="seed_create_key")
    def post(self, request: Request) -> Response:
        data = CreateKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = data.validated_data["user"].strip()
        if user and user.lower() != (request.user.email or "").lower():
            return error_response(ForeignAccount())
        try:
            _, plaintext = services.key_create(owner=request.user, plan_name=data.validated_data["plan_name"])
        except KeyServiceError as exc:
            return error_response(exc)
        return Response({"value": plaintext})


class PlanList(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=PlanOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(PlanOut(selectors.plan_list(), many=True).data)


class KeyListCreate(APIView):
    @extend_schema(responses=KeyOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(KeyOut(selectors.key_list(owner=request.user), many=True).data)

    @extend_schema(request=KeyCreateIn, responses={201: KeyCreatedOut, **ERRORS})
    def post(self, request: Request) -> Response:
        data = KeyCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            key, plaintext = services.key_create(
                owner=request.user,
                plan_name=data.validated_data["plan"],
                label=data.validated_data["label"],
                expires_in_days=data.validated_data["expires_in_days"],
            )
        except KeyServiceError as exc:
            return error_response(exc)
        return Response({**KeyOut(key).data, "value": plaintext}, status=status.HTTP_201_CREATED)


class KeyDetail(APIView):
    @extend_schema(responses={200: KeyOut, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(KeyOut(selectors.key_get(owner=request.user, pk=pk)).data)

    @extend_schema(request=KeyScopesIn, responses={200: KeyOut, **ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        key = selectors.key_get(owner=request.user, pk=pk)
        data = KeyScopesIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.key_scopes_set(key=key, **data.validated_data)
        except KeyServiceError as exc:
            key.refresh_from_db()
            return error_response(exc, operation="update")
        return Response(KeyOut(key).data)


class KeyRevoke(APIView):
    @extend_schema(request=None, responses={200: KeyOut, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        key = selectors.key_get(owner=request.user, pk=pk)
        try:
            services.key_revoke(key=key)
        except KeyServiceError as exc:
            return error_response(exc, operation="revoke")
        return Response(KeyOut(key).data)


class KeyRotate(APIView):
    @extend_schema(request=None, responses={200: KeyCreatedOut, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        key = selectors.key_get(owner=request.user, pk=pk)
        try:
            new_key, plaintext = services.key_rotate(key=key)
        except KeyServiceError as exc:
            return error_response(exc, operation="rotate")
        return Response({**KeyOut(new_key).data, "value": plaintext})


class KeySwitch(APIView):
    """POST /api/v1/keys/{id}/switch/: move the key to another plan; today's count carries over."""

    @extend_schema(request=KeySwitchIn, responses={200: KeyOut, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        key = selectors.key_get(owner=request.user, pk=pk)
        data = KeySwitchIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.key_switch_plan(key=key, plan_name=data.validated_data["plan"])
        except KeyServiceError as exc:
            return error_response(exc, operation="switch")
        return Response(KeyOut(key).data)
