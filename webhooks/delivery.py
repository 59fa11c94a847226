"""Posting events: signed, off the request path on threads of their own, up to 5 tries with exponential backoff."""

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)
TRIES = 5
# A slow or dead endpoint holds one of these threads, never a request's.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tollgate-webhooks")
_timers: set[threading.Timer] = set()


def signature(secret: str, body: bytes) -> str:
    """The X-Tollgate-Signature value: sha256=<hex HMAC-SHA256 of the body with the endpoint's secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_later(build: Callable[[], tuple[str, str, dict, int | None] | None]) -> Future:
    """Work out an event on the webhook threads (`build` may read the database: callers may be on the
    event loop) and post it: `build` returns (event, subject, data, owner id) or None for nothing."""
    return _pool.submit(_build_and_dispatch, build)


def _build_and_dispatch(build: Callable) -> None:
    close_old_connections()
    try:
        built = build()
        if built is not None:
            event_dispatch(*built)
    except Exception:
        logger.exception("could not prepare a webhook event")


def event_dispatch(event: str, subject: str, data: dict, owner_id: int | None) -> list[int]:
    """Record one delivery per endpoint that wants `event` (once per subject, whichever process asks
    first) and post each. Returns the deliveries' ids."""
    endpoints = WebhookEndpoint.objects.filter(is_active=True).filter(Q(owner__isnull=True) | Q(owner_id=owner_id))
    created = []
    for endpoint in endpoints:
        if not endpoint.wants(event):
            continue
        body = json.dumps(
            {"id": uuid.uuid4().hex, "event": event, "created_at": timezone.now().isoformat(), "data": data}
        )
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, subject=subject, body=body)
        except IntegrityError:
            continue  # posted already, by this process or another
        created.append(delivery.pk)
        _pool.submit(attempt, delivery.pk)
    return created


def _backoff(tries: int) -> float:
    return getattr(settings, "WEBHOOK_BACKOFF_SECONDS", 2.0) * 2 ** (tries - 1)


def attempt(delivery_id: int) -> None:
    """One try; a failure schedules the next, until TRIES."""
    close_old_connections()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.succeeded:
        return
    body = delivery.body.encode()
    request = urllib.request.Request(
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Tollgate-Webhooks/1",
            "X-Tollgate-Event": delivery.event,
            "X-Tollgate-Delivery": str(delivery.pk),
            "X-Tollgate-Signature": signature(delivery.endpoint.secret, body),
        },
    )
    started, status, error = time.monotonic(), None, ""
    try:
        with _opener.open(request, timeout=getattr(settings, "WEBHOOK_TIMEOUT", 5.0)) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # unreachable, refused, timed out: tried again later
        error = str(getattr(exc, "reason", exc))[:300] or type(exc).__name__
    tries = delivery.attempts + 1
    ok = status is not None and 200 <= status < 300
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=tries,
        status_code=status,
        error="" if ok else error,
        duration_ms=round((time.monotonic() - started) * 1000),
        delivered_at=timezone.now() if ok else None,
    )
    if not ok and tries < TRIES:
        timer = threading.Timer(_backoff(tries), _retry, args=(delivery.pk,))
        timer.daemon = True
        _timers.add(timer)
        timer.start()
    elif not ok:
        logger.warning("webhook %s to %s failed %d times: %s", delivery.event, delivery.endpoint.url, tries, error)


def _retry(delivery_id: int) -> None:
    _timers.difference_update({t for t in _timers if not t.is_alive()})
    _pool.submit(attempt, delivery_id)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could send the signed body to an address the URL rules would refuse.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def deliveries_wait(timeout: float = 10.0) -> None:
    """Block until the webhook threads are idle (tests): retries scheduled later are not waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _pool.submit(lambda: None).result(timeout=timeout)
        if _pool._work_queue.empty():
            return
