"""Errors the key services raise; each carries the message users see."""


class KeyServiceError(Exception):
    status = 400
    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class PlanNotFound(KeyServiceError):
    status = 400
    message = "Unknown plan."


class KeyAlreadyExists(KeyServiceError):
    status = 409
    message = "Key already exists"  # the seed's exact words; scripts match on them
    page_message = "You already have an active key in this plan."


class ForeignAccount(KeyServiceError):
    status = 403
    message = "You can only create keys for yourself."


class KeyRevoked(KeyServiceError):
    status = 409
    message = "This key is already revoked."


class KeyBackendError(KeyServiceError):
    """The key store (e.g. AWS API Gateway) refused or failed; nothing was left half-made."""

    status = 500
    message = "create failed"
