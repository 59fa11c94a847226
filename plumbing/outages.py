"""What an outage of the database or Redis looks like when it reaches code: one test for it."""

from django.db import InterfaceError, OperationalError


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return RedisConnectionError, RedisTimeoutError


OUTAGES: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, *_redis_errors())


def is_outage(exc: BaseException) -> bool:
    """True for a store that cannot be reached (answer 503 and try again), not for a bug (500)."""
    return isinstance(exc, OUTAGES)
