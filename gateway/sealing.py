"""Upstream API keys sealed at rest with Fernet, under a key derived from SECRET_KEY."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    # A purpose-bound derivation, so this key is never the secret key itself nor reused elsewhere.
    digest = hashlib.sha256(b"tollgate.gateway.upstream-api-key:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def unseal(token: str) -> str:
    """The plaintext, or '' if the token is empty or was sealed under another SECRET_KEY."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
