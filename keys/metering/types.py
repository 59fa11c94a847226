"""What metering hands its callers: a key's facts, an admission, a verdict, and the UTC day."""

import datetime
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the gateway needs to know about a key; cached for a moment, never holds plaintext."""

    key_id: int
    owner_id: int
    plan_id: int
    plan_name: str
    limit: int
    throttle_rate: float | None
    throttle_burst: int | None
    hashed_secret: str
    revoked: bool
    expires_at: float | None = None  # a Unix time; None: never

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    used: int
    limit: int
    revoked: bool = False

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of admitting one request: exactly one of the flags describes a refusal."""

    admission: Admission | None = None
    throttled_for: float = 0.0
    revoked: bool = False

    @property
    def admitted(self) -> bool:
        return self.admission is not None and self.admission.admitted


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def seconds_until_reset(now: datetime.datetime | None = None) -> int:
    now = now or datetime.datetime.now(datetime.UTC)
    tomorrow = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    return max(int((tomorrow - now).total_seconds()) + 1, 1)
