"""The tests' own door into the provider: make users and clients, read what it granted (a bearer token guards it)."""

import json
import os
import secrets
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import Application

from testsupport.oidc_provider.models import AuthorizationSeen, Claims


def _for_the_tests(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    expected = f"Bearer {os.environ['OIDC_PROVIDER_ADMIN_TOKEN']}"

    @csrf_exempt
    def guarded(request: HttpRequest) -> HttpResponse:
        if not secrets.compare_digest(request.headers.get("Authorization", ""), expected):
            return JsonResponse({"error": "unauthorized"}, status=401)
        return view(request)

    return guarded


@_for_the_tests
def users(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    user = get_user_model().objects.create_user(
        username=body["username"], email=body["email"], password=body["password"]
    )
    Claims.objects.create(user=user, values=body.get("claims", {}))
    return JsonResponse({"sub": str(user.pk)}, status=201)


@_for_the_tests
def clients(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    Application.objects.create(
        name=body["client_id"],
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        redirect_uris=" ".join(body["redirect_uris"]),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,  # no consent page: the user has logged in, the code comes straight back
    )
    return JsonResponse({"client_id": body["client_id"]}, status=201)


@_for_the_tests
def authorizations(request: HttpRequest) -> HttpResponse:
    seen = AuthorizationSeen.objects.filter(client_id=request.GET.get("client_id", "")).order_by("pk")
    return JsonResponse({"authorizations": list(seen.values("code_challenge_method", "scopes"))})
