"""django-oauth-toolkit's validator with each user's claims, and a note of every code it grants."""

from oauth2_provider.oauth2_validators import OAuth2Validator

from testsupport.oidc_provider.models import AuthorizationSeen, Claims


class ClaimsValidator(OAuth2Validator):
    def get_additional_claims(self, request) -> dict:
        stored = Claims.objects.filter(user=request.user).values_list("values", flat=True).first() or {}
        return {"email": request.user.email, **stored}

    def save_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        AuthorizationSeen.objects.create(
            client_id=client_id,
            code_challenge_method=request.code_challenge_method or "",
            scopes=" ".join(request.scopes),
        )
