"""Prometheus metrics at /metrics, summed over every worker process of the server.

prometheus_client's multiprocess mode keeps each process's figures in files in one folder, which
/metrics adds up. The folder is PROMETHEUS_MULTIPROC_DIR, or one per server (its processes share a
parent) under the temporary folder; files left by processes that are gone are removed when a
process first counts something. All of it is set up on first use, from the settings, never at import.
Each process adds up its figures in memory and writes them to its file once a second (a locked
file write per figure per request cost the gateway a tenth of its throughput), so /metrics lags the
other processes by at most a second. Nothing is counted unless METRICS_TOKEN is set.
"""

import asyncio
import bisect
import contextvars
import hmac
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.core.signals import setting_changed
from django.dispatch import receiver

from gateway.app_settings import app_settings
from gateway.http import Receive, Scope, Send, send_bytes, send_json
from requestlog.writer import dropped_total as request_log_dropped_total

observation: contextvars.ContextVar[dict | None] = contextvars.ContextVar("observation", default=None)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass(frozen=True)
class _Metrics:
    """The metrics as configured: all None when METRICS_TOKEN is unset, and nothing is counted."""

    token: str = ""
    folder: str = ""
    requests: object = None
    duration: object = None
    upstream: object = None
    refusals: object = None
    tokens: object = None
    sockets: object = None
    log_dropped: object = None


_current: _Metrics | None = None


def _metrics() -> _Metrics:
    """The configuration, made on first use from the settings (and again after a test changes them)."""
    global _current
    if _current is None:
        _current = _configure(app_settings.METRICS_TOKEN, app_settings.PROMETHEUS_MULTIPROC_DIR)
    return _current


def enabled() -> bool:
    return (_current or _metrics()).token != ""


@receiver(setting_changed)
def _reconfigure(*, setting: str, **_) -> None:
    global _current
    if setting in ("METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR"):
        flush()
        _current = None


def _configure(token: str, folder: str) -> _Metrics:
    if not token:
        return _Metrics()
    folder = folder or str(Path(tempfile.gettempdir()) / f"tollgate-metrics-{os.getppid()}")
    _prepare_folder(folder)
    # prometheus_client's multiprocess values find their folder only in this variable, whenever they open a file.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    from prometheus_client import Counter, Gauge, Histogram, values

    values.ValueClass = values.MultiProcessValue()
    return _Metrics(
        token=token,
        folder=folder,
        requests=Counter(
            "tollgate_requests", "Answers of the gateway", ["endpoint", "model", "plan", "status"], registry=None
        ),
        duration=Histogram(
            "tollgate_request_duration_seconds",
            "Time to answer: part=total, or part=tollgate for the time not spent waiting for the upstream",
            ["part"],
            buckets=BUCKETS,
            registry=None,
        ),
        upstream=Counter("tollgate_upstream_requests", "Calls to upstreams", ["upstream", "outcome"], registry=None),
        refusals=Counter("tollgate_quota_refusals", "Requests refused by a limit", ["plan", "reason"], registry=None),
        tokens=Counter("tollgate_tokens", "Tokens answered", ["model", "kind"], registry=None),
        sockets=Gauge("tollgate_chat_sockets", "Open chat sockets", multiprocess_mode="livesum", registry=None),
        log_dropped=Counter(
            "tollgate_request_log_dropped", "Request-log rows that could not be written", registry=None
        ),
    )


def _prepare_folder(folder: str) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    for file in Path(folder).glob("*.db"):
        found = re.search(r"_(\d+)\.db$", file.name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            file.unlink(missing_ok=True)  # a process that has gone: its figures must not be added again


FLUSH_SECONDS = 1.0
_counts: dict[tuple[object, tuple[str, ...]], float] = defaultdict(float)
_observed: dict[tuple[object, tuple[str, ...]], list] = {}  # -> [sum, count per bucket]
_flusher: list[asyncio.Task] = []


def _add(metric, labels: tuple[str, ...], amount: float = 1.0) -> None:
    _counts[(metric, labels)] += amount
    _flush_soon()


def _observe(histogram, labels: tuple[str, ...], value: float) -> None:
    entry = _observed.get((histogram, labels))
    if entry is None:
        entry = _observed[(histogram, labels)] = [0.0, [0] * (len(BUCKETS) + 1)]
    entry[0] += value
    entry[1][bisect.bisect_left(BUCKETS, value)] += 1
    _flush_soon()


def _flush_soon() -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # outside the event loop (a thread): write at once
        return flush()
    if not _flusher or _flusher[0].done() or _flusher[0].get_loop() is not loop:
        _flusher[:] = [loop.create_task(_flush_later())]


async def _flush_later() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    flush()


_log_dropped_seen = [0]


def flush() -> None:
    """Write this process's figures to its file."""
    dropped = request_log_dropped_total()
    if dropped > _log_dropped_seen[0] and _current is not None and _current.log_dropped is not None:
        _current.log_dropped.inc(dropped - _log_dropped_seen[0])
    _log_dropped_seen[0] = dropped
    counts, observed = dict(_counts), dict(_observed)
    _counts.clear()
    _observed.clear()
    for (metric, labels), amount in counts.items():
        metric.labels(*labels).inc(amount)
    for (histogram, labels), (total, buckets) in observed.items():
        child = histogram.labels(*labels)
        child._sum.inc(total)  # the public observe() writes one value at a time; this adds a second's worth
        for index, count in enumerate(buckets):
            if count:
                child._buckets[index].inc(count)


def note(**facts) -> None:
    """Add facts (model, plan, upstream_seconds) to the current request's observation."""
    current = observation.get()
    if current is not None:
        current.update(facts)


def observe_request(endpoint: str, status: int, total: float) -> None:
    facts, metrics = observation.get() or {}, _metrics()
    _add(metrics.requests, (endpoint, facts.get("model", ""), facts.get("plan", ""), str(status)))
    _observe(metrics.duration, ("total",), total)
    _observe(metrics.duration, ("tollgate",), max(total - facts.get("upstream_seconds", 0.0), 0.0))


def count_upstream(upstream: str, outcome: str) -> None:
    if enabled():
        _add(_metrics().upstream, (upstream, outcome))


def count_refusal(plan: str, reason: str) -> None:
    if enabled():
        _add(_metrics().refusals, (plan, reason))


def count_tokens(model: str, prompt: int, completion: int) -> None:
    if (prompt or completion) and enabled():
        _add(_metrics().tokens, (model, "prompt"), prompt)
        _add(_metrics().tokens, (model, "completion"), completion)


def socket_opened() -> None:
    if enabled():
        _metrics().sockets.inc()


def socket_closed() -> None:
    if enabled():
        _metrics().sockets.dec()


async def metrics_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """GET /metrics: 404 unless METRICS_TOKEN is set; then it needs Authorization: Bearer <token>."""
    metrics = _metrics()
    if not metrics.token:
        return await send_json(send, 404, {"error": {"message": "Not found.", "code": "not_found"}})
    given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
    if not hmac.compare_digest(given.encode(), f"Bearer {metrics.token}".encode()):
        headers = [(b"www-authenticate", b"Bearer")]
        return await send_json(
            send, 401, {"error": {"message": "Send the metrics token.", "code": "unauthorized"}}, headers
        )
    flush()  # this process's figures are current; the others' are at most a second old
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics.folder)
    await send_bytes(send, 200, generate_latest(registry), [(b"content-type", b"text/plain; version=0.0.4")])
