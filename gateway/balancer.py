"""Which upstream answers: spread by weight, one retry on another upstream, and a circuit breaker."""

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gateway import health, metrics
from gateway.catalogue import Route, Target
from gateway.errors import UpstreamError
from gateway.signals import upstream_state_changed

T = TypeVar("T")
logger = logging.getLogger(__name__)

FAILURES_TO_OPEN = 3
REST_SECONDS = 30.0
ATTEMPTS = 2  # the first choice and, if it fails before answering, one other


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    open_until: float = 0.0


_circuits: dict[str, _Circuit] = {}


def _circuit(target: Target) -> _Circuit:
    return _circuits.setdefault(target.upstream_name, _Circuit())


def _resting(target: Target, now: float) -> bool:
    return _circuit(target).open_until > now


def order(targets: tuple[Target, ...]) -> list[Target]:
    """Targets in the order to try them: a weighted pick among those not resting, the others
    not resting, then (a last resort before giving up) those the circuit breaker rests."""
    if len(targets) == 1:
        return list(targets)
    now = time.monotonic()
    ready = [t for t in targets if not _resting(t, now)]
    resting = [t for t in targets if t not in ready]
    if not ready:
        ready, resting = resting, []
    first = random.choices(ready, weights=[t.weight for t in ready])[0]
    return [first, *(t for t in ready if t is not first), *resting]


def note_success(target: Target, seconds: float = 0.0) -> None:
    circuit = _circuit(target)
    if circuit.failures >= FAILURES_TO_OPEN:
        upstream_state_changed.send_robust(sender=None, upstream=target.upstream_name, state="up")
    circuit.failures, circuit.open_until = 0, 0.0
    health.record_success(target.upstream_id, seconds)
    metrics.count_upstream(target.upstream_name, "ok")


def note_failure(target: Target, exc: UpstreamError, seconds: float = 0.0) -> None:
    circuit = _circuit(target)
    circuit.failures += 1
    if circuit.failures >= FAILURES_TO_OPEN:
        circuit.open_until = time.monotonic() + REST_SECONDS
        if circuit.failures == FAILURES_TO_OPEN:
            reason = f"{exc.code}: {exc.message}"
            upstream_state_changed.send_robust(sender=None, upstream=target.upstream_name, state="down", reason=reason)
    # exc.message names the upstream's own status where it gave one ("failed (HTTP 500)").
    logger.warning("upstream %s failed: %s, %s", target.upstream_name, exc.code, exc.message)
    health.record_failure(target.upstream_id, f"{exc.code}: {exc.message}", seconds)
    metrics.count_upstream(target.upstream_name, exc.code)


async def with_failover(route: Route, attempt: Callable[[Target], Awaitable[T]]) -> tuple[T, Target]:
    """`attempt(target)` on the first choice, and once more on another upstream if it fails
    (connect error, timeout, 5xx, refused credentials) before answering. Raises the last failure."""
    candidates = order(route.targets)[:ATTEMPTS]
    for index, target in enumerate(candidates):
        started = time.monotonic()
        try:
            result = await attempt(target)
        except UpstreamError as exc:
            note_failure(target, exc, time.monotonic() - started)
            if index == len(candidates) - 1:
                raise
            continue
        note_success(target, time.monotonic() - started)
        if index:
            logger.info(
                "upstream %s rescued the call after %s failed", target.upstream_name, candidates[0].upstream_name
            )
        return result, target
    raise AssertionError("unreachable: a route has at least one target")


def reset() -> None:
    """Close every circuit (tests)."""
    _circuits.clear()
