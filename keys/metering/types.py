"""What metering hands its callers: a key's facts, a reservation, an admission, a verdict, and the UTC day."""

import datetime
import time
from dataclasses import dataclass
from enum import StrEnum

from keys.periods import period_current

_DAY = 86400


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
    token_limit: int | None = None  # tokens a period; None: no token limit
    public_prefix: str = ""  # the key as pages show it (tg-…), for the request log
    period: str = "day"
    time_zone: str = "UTC"
    budget_nanos: int | None = None  # money a period, in nanos; None: no budget
    team_id: int | None = None  # a team key: it draws on the team's quota
    allowed_ips: tuple = ()  # ip_network objects; empty: any address
    allowed_models: frozenset[str] = frozenset()  # empty: every model the plan grants
    max_requests: int | None = None  # the key's own cap a period, under the plan's

    @property
    def holder_id(self) -> int:
        """Whose quota the key draws on: its owner's id, or minus its team's (keys.models.quota_holder)."""
        return -self.team_id if self.team_id else self.owner_id

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at

    @property
    def reserves(self) -> bool:
        """Calls reserve tokens and money before they run, and settle after: the plan limits either."""
        return self.token_limit is not None or self.budget_nanos is not None

    def period_now(self) -> tuple[datetime.date, datetime.datetime]:
        """The current period's first day and the moment it resets."""
        return period_current(self.period, self.time_zone)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The most a call may cost: held from admission until the call settles to what it really cost."""

    tokens: int = 0
    nanos: int = 0


NOTHING = Reservation()


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    used: int
    limit: int
    revoked: bool = False
    moved: bool = False  # the key is in another plan now: admit again with its fresh facts
    tokens_used: int | None = None  # filled in for plans with a token limit only
    token_limit: int | None = None
    spent_nanos: int | None = None  # filled in for plans with a budget only
    budget_nanos: int | None = None
    short: str = ""  # refused: which limit the reservation did not fit ("tokens" or "budget"); "" requests
    reset_at: datetime.datetime | None = None
    period: datetime.date | None = None  # the period the call was counted in: it settles there, even after it

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


class RefusalCode(StrEnum):
    """Why a request was not admitted. Callers decide by this code and map it to an answer in one table."""

    REQUESTS = "requests"  # the period's requests are spent
    TOKENS = "tokens"  # the period's tokens are spent
    BUDGET = "budget"  # the period's budget cannot cover the call
    KEY_REQUESTS = "key_requests"  # the key's own cap a period is spent (the plan may have room)
    THROTTLE = "throttle"  # too many at once; worth a retry in a moment
    REVOKED = "revoked"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"  # the quota store could not be reached; nothing was spent


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of admitting one request: admitted, or refused with one code.

    `admission` carries the counts (for rate-limit headers) whenever they are known;
    `retry_after` is the seconds a throttled caller should wait.
    """

    admission: Admission | None = None
    refusal: RefusalCode | None = None
    retry_after: float = 0.0
    info: "KeyInfo | None" = None  # the key's fresh facts, when admission found they had changed

    @property
    def admitted(self) -> bool:
        return self.refusal is None


_today: tuple[int, datetime.date] = (-1, datetime.date.min)


def utc_today() -> datetime.date:
    """Today's UTC date; on the hot path, so it is worked out once a day, not once a call."""
    global _today
    day_number = int(time.time()) // _DAY
    if _today[0] != day_number:
        _today = (day_number, datetime.date(1970, 1, 1) + datetime.timedelta(days=day_number))
    return _today[1]


def seconds_until_reset(now: datetime.datetime | None = None) -> int:
    """Whole seconds until the next 00:00 UTC, at least 1."""
    timestamp = now.timestamp() if now is not None else time.time()
    return max(int(_DAY - timestamp % _DAY) + 1, 1)
