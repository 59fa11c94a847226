"""Signed webhooks against a real HTTP receiver on loopback: signatures, retries, scoping, and never a slow call."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import sync_to_async

from conftest import post_v1
from keys import services
from keys.metering.thresholds import thresholds_note
from webhooks.delivery import deliveries_wait
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP endpoint that keeps what it is sent; it can fail the first posts, or answer slowly."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.fail_first = 0
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(receiver.delay)
                receiver.posts.append({"headers": dict(self.headers), "body": body})
                failing = len(receiver.posts) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [post["headers"]["X-Tollgate-Event"] for post in self.posts]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, self.events()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_BACKOFF_SECONDS = 0.05
    server = Receiver()
    yield server
    server.server.shutdown()


def verify(post: dict, secret: str) -> dict:
    expected = "sha256=" + hmac.new(secret.encode(), post["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(post["headers"]["X-Tollgate-Signature"], expected)
    return json.loads(post["body"])


def test_key_events_are_signed_and_carry_no_secret(receiver, user, plans):
    endpoint = WebhookEndpoint.objects.create(owner=user, url=receiver.url)
    key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay")
    receiver.wait_for(1)
    created = verify(receiver.posts[0], endpoint.secret)
    assert created["event"] == "key.created" and receiver.posts[0]["headers"]["Content-Type"] == "application/json"
    assert created["data"]["key"] == key.public_prefix and created["data"]["plan"] == "10RequestPerDay"
    services.key_revoke(key=key)
    receiver.wait_for(2)
    revoked = verify(receiver.posts[1], endpoint.secret)
    assert revoked["event"] == "key.revoked" and revoked["data"]["reason"] == "revoked"
    secret_part = plaintext.split(".", 1)[1]
    assert all(secret_part.encode() not in post["body"] for post in receiver.posts)
    bad = dict(receiver.posts[0], body=receiver.posts[0]["body"] + b" ")
    with pytest.raises(AssertionError):
        verify(bad, endpoint.secret)  # a changed body no longer verifies


def test_a_failing_endpoint_is_tried_again_and_stops_after_success(receiver, user, plans):
    receiver.fail_first = 2
    WebhookEndpoint.objects.create(owner=user, url=receiver.url)
    services.key_create(owner=user, plan_name="10RequestPerDay")
    receiver.wait_for(3)
    time.sleep(0.5)  # long enough for a fourth try, were one scheduled
    assert receiver.events() == ["key.created"] * 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.status_code, delivery.error) == (3, 204, "")
    assert delivery.delivered_at is not None and delivery.duration_ms is not None


def test_an_endpoint_that_never_answers_well_is_tried_five_times(receiver, user, plans):
    receiver.fail_first = 100
    WebhookEndpoint.objects.create(owner=user, url=receiver.url)
    services.key_create(owner=user, plan_name="10RequestPerDay")
    receiver.wait_for(5)
    time.sleep(1.0)  # the backoff after a fifth failure would be 0.8 s
    assert len(receiver.posts) == 5
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 5 and delivery.status_code == 500 and delivery.delivered_at is None


async def test_a_slow_endpoint_never_slows_a_call(receiver, user, plans, upstream):
    """The 8th request of a 10-a-day plan crosses 80%: its webhook waits on a 2-second endpoint, the call does not."""
    receiver.delay = 2.0
    await WebhookEndpoint.objects.acreate(owner=user, url=receiver.url, events=["quota.80"])
    key, plaintext = await sync_to_async(services.key_create)(owner=user, plan_name="10RequestPerDay")
    for _ in range(7):
        await post_v1(plaintext, {"messages": [{"role": "user", "content": "hi"}]})
    started = time.monotonic()
    answer = await post_v1(plaintext, {"messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200 and time.monotonic() - started < 1.0
    await sync_to_async(receiver.wait_for)(1)
    event = json.loads(receiver.posts[0]["body"])
    assert event["event"] == "quota.80" and event["data"]["kind"] == "requests" and event["data"]["percent"] == 80


def test_users_get_their_own_keys_events_and_staff_get_everyones(receiver, user, other_user, plans):
    mine = WebhookEndpoint.objects.create(owner=user, url=receiver.url + "?mine")
    staff = WebhookEndpoint.objects.create(owner=None, url=receiver.url + "?staff")
    key, _ = services.key_create(owner=other_user, plan_name="10RequestPerDay")
    thresholds_note(key_id=key.pk, day=key.created_at.date(), kind="budget", before=7, after=8, limit=10)
    thresholds_note(key_id=key.pk, day=key.created_at.date(), kind="budget", before=7, after=8, limit=10)  # again
    receiver.wait_for(2)
    deliveries_wait()
    assert sorted(WebhookDelivery.objects.values_list("endpoint_id", "event")) == [
        (staff.pk, "budget.80"),
        (staff.pk, "key.created"),
    ]
    assert not WebhookDelivery.objects.filter(endpoint=mine).exists()


async def test_an_upstream_going_down_and_up_reaches_staff_endpoints_only(receiver, user):
    from gateway import balancer
    from gateway.catalogue import Target
    from gateway.errors import UpstreamError

    await WebhookEndpoint.objects.acreate(owner=user, url=receiver.url + "?mine")
    await WebhookEndpoint.objects.acreate(owner=None, url=receiver.url + "?staff")
    target = Target(None, "primary", None, 1, "m")
    balancer.reset()
    for _ in range(4):  # the third failure opens the circuit: one "down", not two
        balancer.note_failure(target, UpstreamError(502, "upstream_unavailable", "The model server failed."))
    balancer.note_success(target)
    await sync_to_async(receiver.wait_for)(2)
    await sync_to_async(deliveries_wait)()
    assert sorted(receiver.events()) == ["upstream.down", "upstream.up"]
    assert all(b'"upstream": "primary"' in post["body"] for post in receiver.posts)
    assert not await WebhookDelivery.objects.filter(endpoint__owner=user).aexists()
    balancer.reset()


def test_an_expiring_key_is_announced_once(receiver, user, plans):
    import datetime

    from django.utils import timezone

    from keys.models import ApiKey

    endpoint = WebhookEndpoint.objects.create(owner=user, url=receiver.url, events=["key.expiring"])
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() + datetime.timedelta(days=3))
    assert services.keys_expiring_announce() == 1
    assert services.keys_expiring_announce() == 1  # cron runs again: posted once all the same
    receiver.wait_for(1)
    deliveries_wait()
    assert receiver.events() == ["key.expiring"]
    assert verify(receiver.posts[0], endpoint.secret)["data"]["expires_at"] is not None


def test_expiring_keys_are_announced_by_the_days_upkeep_without_cron(receiver, user, plans):
    import datetime

    from django.utils import timezone

    from keys.models import ApiKey
    from requestlog.models import PruneLease
    from requestlog.writer import upkeep

    WebhookEndpoint.objects.create(owner=user, url=receiver.url, events=["key.expiring"])
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() + datetime.timedelta(days=3))
    PruneLease.objects.update_or_create(pk=1, defaults={"day": datetime.date(2000, 1, 1)})  # the day is unclaimed
    upkeep()
    upkeep()  # claimed already: nothing more
    receiver.wait_for(1)
    deliveries_wait()
    assert receiver.events() == ["key.expiring"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("https://user:pass@hooks.example.com/x", "Leave credentials out"),
        ("http://127.0.0.1:9/x", "WEBHOOK_ALLOW_PRIVATE"),
        ("http://169.254.169.254/latest", "WEBHOOK_ALLOW_PRIVATE"),
        ("http://10.1.2.3/x", "WEBHOOK_ALLOW_PRIVATE"),
        ("http://localhost/x", "WEBHOOK_ALLOW_PRIVATE"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(alice_client, settings, url, words):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    answer = alice_client.post("/account/webhooks/", {"url": url})
    assert answer.status_code == 400 and words in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_page_adds_lists_and_deletes_only_the_users_own_endpoints(alice_client, user, other_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    answer = alice_client.post("/account/webhooks/", {"url": "https://hooks.example.com/t", "events": ["key.created"]})
    assert answer.status_code == 302
    endpoint = WebhookEndpoint.objects.get(owner=user)
    assert endpoint.events == ["key.created"] and endpoint.secret.startswith("whsec_")
    page = alice_client.get("/account/webhooks/").content.decode()
    assert "https://hooks.example.com/t" in page and endpoint.secret in page
    theirs = WebhookEndpoint.objects.create(owner=other_user, url="https://theirs.example.com/")
    assert theirs.url not in page and theirs.secret not in page
    alice_client.post(f"/account/webhooks/{theirs.pk}/delete/")
    assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists()
    alice_client.post(f"/account/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
