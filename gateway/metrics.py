"""Prometheus metrics at /metrics, summed over every worker process of the server.

prometheus_client's multiprocess mode keeps each process's figures in files in one folder, which
/metrics adds up. The folder is PROMETHEUS_MULTIPROC_DIR, or one per server (its processes share a
parent) under the temporary folder; files left by processes that are gone are removed at start.
Nothing is counted unless METRICS_TOKEN is set.
"""

import contextvars
import hmac
import os
import re
import tempfile
from pathlib import Path

from gateway.http import Receive, Scope, Send, send_bytes, send_json

TOKEN = os.environ.get("METRICS_TOKEN", "")
ENABLED = bool(TOKEN)
observation: contextvars.ContextVar[dict | None] = contextvars.ContextVar("observation", default=None)


def _prepare_folder() -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        Path(tempfile.gettempdir()) / f"tollgate-metrics-{os.getppid()}"
    )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # read by prometheus_client when it is imported
    Path(folder).mkdir(parents=True, exist_ok=True)
    for file in Path(folder).glob("*.db"):
        found = re.search(r"_(\d+)\.db$", file.name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            file.unlink(missing_ok=True)  # a process that has gone: its figures must not be added again


if ENABLED:
    _prepare_folder()
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

    REQUESTS = Counter("tollgate_requests", "Answers of the gateway", ["endpoint", "model", "plan", "status"])
    DURATION = Histogram(
        "tollgate_request_duration_seconds",
        "Time to answer: part=total, or part=tollgate for the time not spent waiting for the upstream",
        ["part"],
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    )
    UPSTREAM = Counter("tollgate_upstream_requests", "Calls to upstreams", ["upstream", "outcome"])
    REFUSALS = Counter("tollgate_quota_refusals", "Requests refused by a limit", ["plan", "reason"])
    TOKENS = Counter("tollgate_tokens", "Tokens answered", ["model", "kind"])
    SOCKETS = Gauge("tollgate_chat_sockets", "Open chat sockets", multiprocess_mode="livesum")


def note(**facts) -> None:
    """Add facts (model, plan, upstream_seconds) to the current request's observation."""
    current = observation.get()
    if current is not None:
        current.update(facts)


def observe_request(endpoint: str, status: int, total: float) -> None:
    facts = observation.get() or {}
    REQUESTS.labels(endpoint, facts.get("model", ""), facts.get("plan", ""), str(status)).inc()
    DURATION.labels("total").observe(total)
    DURATION.labels("tollgate").observe(max(total - facts.get("upstream_seconds", 0.0), 0.0))


def count_upstream(upstream: str, outcome: str) -> None:
    if ENABLED:
        UPSTREAM.labels(upstream, outcome).inc()


def count_refusal(plan: str, reason: str) -> None:
    if ENABLED:
        REFUSALS.labels(plan, reason).inc()


def count_tokens(model: str, prompt: int, completion: int) -> None:
    if ENABLED:
        TOKENS.labels(model, "prompt").inc(prompt)
        TOKENS.labels(model, "completion").inc(completion)


def socket_opened() -> None:
    if ENABLED:
        SOCKETS.inc()


def socket_closed() -> None:
    if ENABLED:
        SOCKETS.dec()


async def metrics_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """GET /metrics: 404 unless METRICS_TOKEN is set; then it needs Authorization: Bearer <token>."""
    if not ENABLED:
        return await send_json(send, 404, {"error": {"message": "Not found.", "code": "not_found"}})
    given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
    if not hmac.compare_digest(given.encode(), f"Bearer {TOKEN}".encode()):
        headers = [(b"www-authenticate", b"Bearer")]
        return await send_json(
            send, 401, {"error": {"message": "Send the metrics token.", "code": "unauthorized"}}, headers
        )
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    await send_bytes(send, 200, generate_latest(registry), [(b"content-type", b"text/plain; version=0.0.4")])
