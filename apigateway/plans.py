"""Keep API Gateway usage plans in step with Tollgate's Plans, and import existing usage plans."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from apigateway.client import apigateway_client, aws_errors
from keys.app_settings import app_settings
from keys.exceptions import KeyBackendError
from keys.models import Plan


@dataclass(frozen=True)
class Change:
    plan: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:>8}  {self.plan}" + (f"  ({self.detail})" if self.detail else "")


def _usage_plans(client) -> list[dict]:
    plans, position = [], None
    while True:
        page = client.get_usage_plans(**({"position": position} if position else {}), limit=500)
        plans.extend(page.get("items", []))
        position = page.get("position")
        if not position:
            return plans


def _stage() -> dict:
    return {"apiId": app_settings.AWS_API_GATEWAY_API_ID, "stage": app_settings.AWS_API_GATEWAY_STAGE}


class PlanNotSyncable(KeyBackendError):
    """A plan that API Gateway cannot enforce as written; the message says why and what to do."""

    code = "plan_not_syncable"


def aws_period(plan: Plan) -> str:
    """The usage plan's quota period (API Gateway's DAY, WEEK or MONTH, counted in UTC)."""
    return plan.period.upper()


def plan_syncable_check(plan: Plan) -> None:
    if plan.budget is not None:
        raise PlanNotSyncable(
            f"plan {plan.name}: has a budget, and API Gateway cannot count money. "
            "Budgets and prices need Tollgate's own metering (KEYS_BACKEND=local); clear the budget to sync it."
        )
    if plan.time_zone != "UTC":
        raise PlanNotSyncable(
            f"plan {plan.name}: its time zone is {plan.time_zone}, but API Gateway counts periods in UTC. "
            "Set the plan's time zone to UTC to sync it."
        )


def _wanted(plan: Plan) -> dict:
    wanted = {
        "/quota/limit": str(plan.requests_per_day),
        "/quota/period": aws_period(plan),
        "/description": plan.description,
    }
    if plan.throttle_rate:
        # "2" rather than "2.0": AWS takes either, moto only the former.
        wanted["/throttle/rateLimit"] = f"{float(plan.throttle_rate):g}"
        wanted["/throttle/burstLimit"] = str(plan.throttle_burst or max(int(plan.throttle_rate), 1))
    return wanted


def _current(remote: dict) -> dict:
    quota, throttle = remote.get("quota") or {}, remote.get("throttle") or {}
    current = {
        "/quota/limit": str(quota.get("limit", "")),
        "/quota/period": quota.get("period", ""),
        "/description": remote.get("description", "") or "",
    }
    if throttle:
        current["/throttle/rateLimit"] = f"{float(throttle.get('rateLimit', 0)):g}"
        current["/throttle/burstLimit"] = str(throttle.get("burstLimit", ""))
    return current


def plans_sync(*, client=None, dry_run: bool = False) -> list[Change]:
    """Create or update one usage plan per active Plan, attached to the API stage. Idempotent."""
    client = client or apigateway_client()
    changes: list[Change] = []
    with aws_errors(gettext_lazy("list the usage plans")):
        remote = _usage_plans(client)
    by_id, by_name = {p["id"]: p for p in remote}, {p["name"]: p for p in remote}
    stage = _stage()
    active = list(Plan.objects.filter(is_active=True))
    for plan in active:  # all or nothing: refuse before changing anything
        plan_syncable_check(plan)
    for plan in active:
        existing = by_id.get(plan.backend_id) or by_name.get(plan.name)
        if existing is None:
            changes.append(Change(plan.name, "create", f"{plan.requests_per_day}/{plan.period}"))
            if not dry_run:
                arguments = {
                    "name": plan.name,
                    "description": plan.description,
                    "apiStages": [stage],
                    "quota": {"limit": plan.requests_per_day, "period": aws_period(plan)},
                }
                if plan.throttle_rate:
                    wanted = _wanted(plan)
                    arguments["throttle"] = {
                        "rateLimit": float(wanted["/throttle/rateLimit"]),
                        "burstLimit": int(wanted["/throttle/burstLimit"]),
                    }
                with aws_errors(f"create the usage plan {plan.name}"):
                    created = client.create_usage_plan(**arguments)
                Plan.objects.filter(pk=plan.pk).update(backend_id=created["id"])
            continue
        if plan.backend_id != existing["id"]:
            changes.append(Change(plan.name, "adopt", existing["id"]))
            if not dry_run:
                Plan.objects.filter(pk=plan.pk).update(backend_id=existing["id"])
        current, wanted = _current(existing), _wanted(plan)
        operations = [
            {"op": "replace", "path": path, "value": value}
            for path, value in wanted.items()
            if current.get(path) != value
        ]
        if existing.get("name") != plan.name:
            operations.append({"op": "replace", "path": "/name", "value": plan.name})
        if stage not in (existing.get("apiStages") or []):
            operations.append({"op": "add", "path": "/apiStages", "value": f"{stage['apiId']}:{stage['stage']}"})
        if operations:
            changes.append(Change(plan.name, "update", ", ".join(o["path"] for o in operations)))
            if not dry_run:
                with aws_errors(f"update the usage plan {plan.name}"):
                    client.update_usage_plan(usagePlanId=existing["id"], patchOperations=operations)
    return changes


def plans_import(*, client=None, dry_run: bool = False) -> list[Change]:
    """Create a Plan for every daily usage plan that Tollgate does not know yet."""
    client = client or apigateway_client()
    with aws_errors(gettext_lazy("list the usage plans")):
        remote = _usage_plans(client)
    known_ids = set(Plan.objects.exclude(backend_id="").values_list("backend_id", flat=True))
    known_names = set(Plan.objects.values_list("name", flat=True))
    changes = []
    for usage_plan in remote:
        name, quota = usage_plan["name"], usage_plan.get("quota") or {}
        if usage_plan["id"] in known_ids or name in known_names:
            continue
        if quota.get("period") != "DAY" or not quota.get("limit"):
            changes.append(Change(name, "skip", "no daily quota"))
            continue
        throttle = usage_plan.get("throttle") or {}
        plan = Plan(
            name=name,
            requests_per_day=quota["limit"],
            throttle_rate=throttle.get("rateLimit") or None,
            throttle_burst=throttle.get("burstLimit") or None,
            description=usage_plan.get("description", "") or "",
            backend_id=usage_plan["id"],
        )
        try:
            plan.full_clean()
        except ValidationError as exc:
            changes.append(Change(name, "skip", "; ".join(exc.messages)))
            continue
        changes.append(Change(name, "import", f"{quota['limit']}/day"))
        if not dry_run:
            plan.save()
    return changes
