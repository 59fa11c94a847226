"""API key format: generate, checksum, hash and verify, with no database access."""

import hashlib
import hmac
import re
import secrets
import string
import zlib
from typing import NamedTuple

TAG = "tg-"
ALPHABET = string.ascii_letters + string.digits
PREFIX_LENGTH = 8
SECRET_LENGTH = 32  # 32 base62 characters carry about 190 bits
CHECKSUM_LENGTH = 6
KEY_RE = re.compile(
    rf"^{TAG}(?P<prefix>[A-Za-z0-9]{{{PREFIX_LENGTH}}})\."
    rf"(?P<secret>[A-Za-z0-9]{{{SECRET_LENGTH}}})(?P<checksum>[A-Za-z0-9]{{{CHECKSUM_LENGTH}}})$"
)


class ParsedKey(NamedTuple):
    prefix: str
    plaintext: str


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    out = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(out)


def key_generate() -> tuple[str, str]:
    """Return (prefix, plaintext) for a new key."""
    prefix = _random(PREFIX_LENGTH)
    body = f"{TAG}{prefix}.{_random(SECRET_LENGTH)}"
    return prefix, body + _checksum(body)


def key_parse(raw: str) -> ParsedKey | None:
    """Return the key's parts if it is well formed and its checksum matches, else None."""
    match = KEY_RE.match(raw)
    if match is None:
        return None
    body = raw[:-CHECKSUM_LENGTH]
    if not hmac.compare_digest(_checksum(body), match["checksum"]):
        return None
    return ParsedKey(prefix=match["prefix"], plaintext=raw)


def key_hash(plaintext: str) -> str:
    # A fast hash is right: the secret is random with ~190 bits, so there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def key_verify(plaintext: str, hashed: str) -> bool:
    return hmac.compare_digest(key_hash(plaintext), hashed)


def display_prefix(prefix: str) -> str:
    return f"{TAG}{prefix}"
