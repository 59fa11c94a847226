"""Errors the key services raise; each carries a code to decide by and the message users see."""

from django.utils.translation import gettext_lazy as _

from plumbing.errors import ServiceError


class KeyServiceError(ServiceError):
    """An error of the key services."""


class PlanNotFound(KeyServiceError):
    status = 400
    code = "plan_not_found"
    message = _("Unknown plan.")


class KeyAlreadyExists(KeyServiceError):
    status = 409
    code = "key_exists"
    message = _("Key already exists")  # the seed's exact words; scripts match on them
    page_message = _("You already have an active key in this plan.")


class ForeignAccount(KeyServiceError):
    status = 403
    code = "foreign_account"
    message = _("You can only create keys for yourself.")


class KeyRevoked(KeyServiceError):
    status = 409
    code = "key_revoked"
    message = _("This key is already revoked.")


class KeyBackendError(KeyServiceError):
    """The key store (e.g. AWS API Gateway) refused or failed; nothing was left half-made."""

    status = 500
    code = "backend_failed"
    message = _("create failed")


class BadExpiry(KeyServiceError):
    status = 400
    code = "bad_expiry"
    message = _("A key's lifetime must be a whole number of days from 1 to 3650, or none for a key that never expires.")


class KeyExpired(KeyServiceError):
    status = 409
    code = "key_expired"
    message = _("This key has expired; generate a new key instead.")


class SamePlan(KeyServiceError):
    status = 400
    code = "same_plan"
    message = _("The key is already in that plan.")


class BadScope(KeyServiceError):
    status = 400
    code = "bad_scope"
    message = _("A key's scope was not valid.")


class NeedsOwnGateway(KeyServiceError):
    status = 400
    code = "needs_own_gateway"
    message = _(
        "Team keys and key limits need Tollgate's own gateway: with KEYS_BACKEND=aws, API Gateway admits "
        "the calls and cannot enforce them."
    )
