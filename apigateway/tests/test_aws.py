"""KEYS_BACKEND=aws: plan sync, key lifecycle, rollback at every call, usage, errors, moto's server mode."""

import datetime
import json

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from django.core.management import call_command

from apigateway.backend import AwsKeyBackend
from apigateway.plans import plans_import, plans_sync
from keys import services
from keys.checks import check_keys_backend
from keys.exceptions import KeyBackendError
from keys.models import ApiKey, Plan

pytestmark = pytest.mark.django_db


def usage_plans(aws) -> dict[str, dict]:
    return {p["name"]: p for p in aws.client.get_usage_plans()["items"]}


def test_sync_makes_the_three_usage_plans_once(aws, capsys):
    remote = usage_plans(aws)
    assert set(remote) == {"10RequestPerDay", "20RequestPerDay", "30RequestPerDay"}
    assert remote["20RequestPerDay"]["quota"] == {"limit": 20, "period": "DAY"}
    assert remote["20RequestPerDay"]["apiStages"] == [{"apiId": aws.api_id, "stage": "prod"}]
    assert Plan.objects.get(name="20RequestPerDay").backend_id == remote["20RequestPerDay"]["id"]
    call_command("sync_plans")
    assert "nothing to change" in capsys.readouterr().out
    assert len(aws.client.get_usage_plans()["items"]) == 3


def test_sync_updates_changed_limits_and_throttles(aws):
    Plan.objects.filter(name="10RequestPerDay").update(requests_per_day=15, throttle_rate=2.0, throttle_burst=4)
    changes = plans_sync()
    assert [c.action for c in changes] == ["update"]
    remote = usage_plans(aws)["10RequestPerDay"]
    assert remote["quota"]["limit"] == 15
    assert remote["throttle"] == {"rateLimit": 2.0, "burstLimit": 4}
    assert plans_sync() == []


def test_dry_run_changes_nothing(aws, capsys):
    Plan.objects.create(name="50RequestPerDay", requests_per_day=50)
    call_command("sync_plans", "--dry-run")
    assert "would   create  50RequestPerDay" in capsys.readouterr().out
    assert "50RequestPerDay" not in usage_plans(aws)
    assert Plan.objects.get(name="50RequestPerDay").backend_id == ""


def test_import_creates_plans_from_existing_usage_plans(aws):
    aws.client.create_usage_plan(name="100RequestPerDay", quota={"limit": 100, "period": "DAY"})
    aws.client.create_usage_plan(name="Monthly", quota={"limit": 100, "period": "MONTH"})
    changes = plans_import()
    assert {(c.plan, c.action) for c in changes} == {("100RequestPerDay", "import"), ("Monthly", "skip")}
    assert Plan.objects.get(name="100RequestPerDay").requests_per_day == 100
    assert [c.action for c in plans_import()] == ["skip"]  # a second run imports nothing again


def test_generate_key_makes_an_api_gateway_key_in_the_plan(aws, user):
    key, plaintext = services.key_create(owner=user, plan_name="30RequestPerDay")
    remote = aws.client.get_api_key(apiKey=key.backend_id, includeValue=True)
    assert remote["value"] == plaintext and remote["name"] == user.email and remote["enabled"]
    plan_id = Plan.objects.get(name="30RequestPerDay").backend_id
    assert [k["id"] for k in aws.client.get_usage_plan_keys(usagePlanId=plan_id)["items"]] == [key.backend_id]
    assert plaintext not in json.dumps(list(ApiKey.objects.values()), default=str)


def test_revoke_disables_and_detaches(aws, user):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_revoke(key=key)
    assert aws.client.get_api_key(apiKey=key.backend_id)["enabled"] is False


def test_rotate_deletes_the_old_key(aws, user):
    old, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    new, plaintext = services.key_rotate(key=old)
    ids = {k["id"] for k in aws.client.get_api_keys()["items"]}
    assert ids == {new.backend_id}
    assert aws.client.get_api_key(apiKey=new.backend_id, includeValue=True)["value"] == plaintext


@pytest.fixture
def fail_on(monkeypatch):
    """Make one boto3 operation fail with an AWS error, leaving every other call to moto."""
    original = botocore.client.BaseClient._make_api_call

    def arm(operation: str, code: str = "TooManyRequestsException"):
        def call(self, name, params):
            if name == operation:
                raise ClientError({"Error": {"Code": code, "Message": "injected"}}, name)
            return original(self, name, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)

    return arm


@pytest.mark.parametrize("operation", ["CreateApiKey", "CreateUsagePlanKey"])
def test_failure_at_each_call_leaves_no_orphan_and_no_record(aws, user, fail_on, operation):
    fail_on(operation)
    with pytest.raises(KeyBackendError):
        services.key_create(owner=user, plan_name="10RequestPerDay")
    assert aws.client.get_api_keys()["items"] == []
    assert not ApiKey.objects.exists()


def test_failure_of_the_local_record_deletes_the_api_gateway_key(aws, user, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(ApiKey.objects, "create", broken)
    with pytest.raises(RuntimeError):
        services.key_create(owner=user, plan_name="10RequestPerDay")
    assert aws.client.get_api_keys()["items"] == []


def test_seed_api_answers_500_create_failed_with_a_clear_detail(aws, alice_client, fail_on):
    fail_on("CreateUsagePlanKey", "AccessDeniedException")
    response = alice_client.post("/create_key", {"plan_name": "10RequestPerDay"}, content_type="application/json")
    assert response.status_code == 500
    assert response.json()["message"] == "create failed"
    assert "IAM" in response.json()["detail"]
    assert aws.client.get_api_keys()["items"] == []


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("TooManyRequestsException", "throttling"),
        ("AccessDeniedException", "not allowed"),
        ("NotFoundException", "sync_plans"),
    ],
)
def test_control_plane_errors_become_clear_messages_on_the_page(aws, alice_client, fail_on, code, words):
    fail_on("CreateApiKey", code)
    response = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"})
    assert response.status_code == 503
    assert words in response.content.decode()


def test_revoke_failure_keeps_the_key_active_and_says_why(aws, user, fail_on):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    fail_on("UpdateApiKey", "AccessDeniedException")
    with pytest.raises(KeyBackendError, match="not allowed"):
        services.key_revoke(key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_unsynced_plan_is_refused_before_touching_aws(aws, user):
    Plan.objects.create(name="New", requests_per_day=5)
    with pytest.raises(KeyBackendError, match="sync_plans"):
        services.key_create(owner=user, plan_name="New")
    assert aws.client.get_api_keys()["items"] == []


def test_usage_comes_from_get_usage(plans, user):
    client = boto3.client("apigateway", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    plan = plans["10RequestPerDay"]
    plan.backend_id = "plan1"
    key = ApiKey(owner=user, plan=plan, prefix="AbCdEfGh", backend_id="key1")
    start = datetime.date(2026, 11, 22)
    with Stubber(client) as stub:
        stub.add_response(
            "get_usage",
            {"usagePlanId": "plan1", "items": {"key1": [[3, 7], [10, 0]]}},
            {"usagePlanId": "plan1", "keyId": "key1", "startDate": "2026-11-22", "endDate": "2026-11-23"},
        )
        usage = AwsKeyBackend(client=client).key_usage(api_key=key, start=start, end=datetime.date(2026, 11, 23))
    assert usage == {start: 3, datetime.date(2026, 11, 23): 10}


def test_missing_aws_settings_fail_the_system_check(settings):
    settings.KEYS_BACKEND = "aws"
    settings.AWS_API_GATEWAY_API_ID = ""
    settings.AWS_API_GATEWAY_STAGE = "prod"
    settings.AWS_API_GATEWAY_URL = ""
    settings.AWS_REGION = "us-east-1"
    messages = [e.msg for e in check_keys_backend()]
    assert "KEYS_BACKEND=aws needs AWS_API_GATEWAY_API_ID." in messages
    assert "KEYS_BACKEND=aws needs AWS_API_GATEWAY_URL." in messages


def test_through_moto_server_mode_via_aws_endpoint_url(plans, user, settings, monkeypatch):
    from moto.server import ThreadedMotoServer

    from conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        client = boto3.client("apigateway", region_name="us-east-1")
        api_id = client.create_rest_api(name="llm")["id"]
        settings.KEYS_BACKEND, settings.AWS_REGION = "aws", "us-east-1"
        settings.AWS_API_GATEWAY_API_ID, settings.AWS_API_GATEWAY_STAGE = api_id, "prod"
        plans_sync()
        key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay")
        assert client.get_api_key(apiKey=key.backend_id, includeValue=True)["value"] == plaintext
    finally:
        server.stop()


def test_keys_page_snippets_use_the_api_gateway_url(aws, alice_client, settings):
    response = alice_client.post("/keys/generate", {"plan_name": "10RequestPerDay"})
    assert f'base_url="{settings.AWS_API_GATEWAY_URL}"' in response.content.decode()


def test_keys_page_shows_api_gateways_count_of_today(aws, alice_client, user, monkeypatch):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    today = datetime.datetime.now(datetime.UTC).date()
    seen = []

    def get_usage(self, *, api_key, start, end):
        seen.append((api_key.backend_id, start, end))
        return {today: 7}

    monkeypatch.setattr(AwsKeyBackend, "key_usage", get_usage)
    page = alice_client.get("/keys/").content.decode()
    assert "7 / 10" in page and seen == [(key.backend_id, today, today)]


def test_keys_page_survives_api_gateway_not_answering_usage(aws, alice_client, user):
    services.key_create(owner=user, plan_name="10RequestPerDay")
    # moto does not implement get_usage: it answers 404, as an unreachable API would fail.
    response = alice_client.get("/keys/")
    assert response.status_code == 200 and "—</span> / 10" in response.content.decode()
    assert "could not be read" in alice_client.get("/").content.decode()


def test_staff_sync_plans_from_the_admin(aws, client, user_factory):
    client.force_login(user_factory("staff@example.com", is_staff=True, is_superuser=True))
    plan = Plan.objects.get(name="10RequestPerDay")
    response = client.post(
        f"/admin/keys/plan/{plan.pk}/change/",
        {
            "name": plan.name,
            "requests_per_day": 11,
            "description": "",
            "is_active": "on",
            "order": 1,
            "period": "day",
            "time_zone": "UTC",
        },
        follow=True,
    )
    assert "Sync plans to API Gateway" in response.content.decode()
    assert usage_plans(aws)["10RequestPerDay"]["quota"]["limit"] == 10  # not yet
    response = client.post(
        "/admin/keys/plan/", {"action": "sync_to_api_gateway", "_selected_action": [plan.pk]}, follow=True
    )
    assert "Synced all active plans" in response.content.decode()
    assert usage_plans(aws)["10RequestPerDay"]["quota"]["limit"] == 11


def plan_keys(aws, plan_name: str) -> list[str]:
    plan_id = Plan.objects.get(name=plan_name).backend_id
    return [k["id"] for k in aws.client.get_usage_plan_keys(usagePlanId=plan_id)["items"]]


def test_switching_plans_moves_the_key_between_usage_plans(aws, user):
    key, plaintext = services.key_create(owner=user, plan_name="10RequestPerDay")
    services.key_switch_plan(key=key, plan_name="30RequestPerDay")
    assert plan_keys(aws, "30RequestPerDay") == [key.backend_id]
    assert key.backend_id not in plan_keys(aws, "10RequestPerDay")
    assert aws.client.get_api_key(apiKey=key.backend_id, includeValue=True)["value"] == plaintext  # same key


def test_a_failed_move_puts_the_key_back_in_its_usage_plan(aws, user, monkeypatch):
    key, _ = services.key_create(owner=user, plan_name="10RequestPerDay")
    target = Plan.objects.get(name="30RequestPerDay").backend_id
    original = botocore.client.BaseClient._make_api_call

    def call(self, name, params):
        if name == "CreateUsagePlanKey" and params["usagePlanId"] == target:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "injected"}}, name)
        return original(self, name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    with pytest.raises(KeyBackendError, match="throttling"):
        services.key_switch_plan(key=key, plan_name="30RequestPerDay")
    assert plan_keys(aws, "10RequestPerDay") == [key.backend_id] and plan_keys(aws, "30RequestPerDay") == []
    assert ApiKey.objects.get(pk=key.pk).plan.name == "10RequestPerDay"


def test_periods_map_to_usage_plan_periods(aws):
    Plan.objects.create(name="Weekly", requests_per_day=500, period="week")
    Plan.objects.create(name="Monthly", requests_per_day=5000, period="month")
    plans_sync()
    remote = usage_plans(aws)
    assert remote["Weekly"]["quota"] == {"limit": 500, "period": "WEEK"}
    assert remote["Monthly"]["quota"] == {"limit": 5000, "period": "MONTH"}
    Plan.objects.filter(name="Weekly").update(period="month")
    assert [c.action for c in plans_sync()] == ["update"]
    assert usage_plans(aws)["Weekly"]["quota"]["period"] == "MONTH"


def test_a_plan_with_a_budget_or_a_zone_is_refused_by_sync_plans_with_a_reason(aws):
    from decimal import Decimal

    from django.core.management.base import CommandError

    Plan.objects.create(name="Budgeted", requests_per_day=50, budget=Decimal("5"))
    with pytest.raises(CommandError, match="has a budget, and API Gateway cannot count money"):
        call_command("sync_plans")
    assert "Budgeted" not in usage_plans(aws)  # all or nothing
    Plan.objects.filter(name="Budgeted").update(budget=None, time_zone="Asia/Bangkok")
    with pytest.raises(CommandError, match="API Gateway counts periods in UTC"):
        call_command("sync_plans")


def test_the_plan_form_refuses_a_budget_with_the_aws_backend(aws):
    from decimal import Decimal

    from django.core.exceptions import ValidationError

    plan = Plan(name="Budgeted", requests_per_day=50, budget=Decimal("5"))
    with pytest.raises(ValidationError) as error:
        plan.full_clean()
    assert "Budgets and prices need Tollgate's own metering" in str(error.value.message_dict["budget"])
