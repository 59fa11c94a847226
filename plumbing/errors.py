"""The base of every service error: an HTTP status, a code to decide by, and a message people can act on."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    status = 400
    code = "invalid"
    message = _("The request could not be completed.")

    def __init__(self, message: str | Promise | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
