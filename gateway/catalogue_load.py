"""Create or update upstreams, models and plan grants from an operator's file, idempotently."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction

from gateway.catalogue_file import CatalogueFileError, catalogue_check
from gateway.models import CatalogModel, Upstream
from keys.models import Plan
from keys.money import money_parse


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:>8} {self.kind} {self.name}" + (f" ({self.detail})" if self.detail else "")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CatalogueFileError(message)


def _action(created: bool, changed: list[str]) -> str:
    return "create" if created else "update" if changed else "same"


def _upstream(item: dict, allow_unset_env: bool) -> Change:
    fields = {
        "base_url": item["base_url"],
        "weight": int(item.get("weight", 1)),
        "timeout": float(item.get("timeout", 120.0)),
        "api_key_env": item.get("api_key_env", ""),
        "max_concurrent": item.get("max_concurrent"),
    }
    upstream = Upstream.objects.filter(name=item["name"]).first()
    created = upstream is None
    upstream = upstream or Upstream(name=item["name"])
    moved = not created and upstream.base_url != fields["base_url"]
    changed = [name for name, value in fields.items() if getattr(upstream, name) != value]
    for name, value in fields.items():
        setattr(upstream, name, value)
    if "api_key" in item and (moved or upstream.api_key != str(item["api_key"])):
        upstream.set_api_key(str(item["api_key"]))
        changed.append("api_key")
    elif upstream.sealed_api_key and ("api_key_env" in item or moved):
        # A sealed key is not sent to a new address unless the file gives it again (save() clears it too).
        upstream.sealed_api_key = ""
        changed.append("api_key removed")
    try:
        upstream.full_clean()
    except ValidationError as exc:
        raise CatalogueFileError(f"upstream {item['name']!r}: {'; '.join(exc.messages)}") from exc
    variable = upstream.api_key_env
    _require(
        allow_unset_env or not variable or variable in os.environ,
        f"upstream {item['name']!r}: {variable} is not set in this environment "
        "(set it, or pass --allow-unset-env to load it anyway).",
    )
    if created or changed:
        upstream.save()
    return Change("upstream", upstream.name, _action(created, changed), ", ".join(changed))


def _model(item: dict) -> Change:
    wanted_upstreams = set(item["upstreams"])
    known = {u.name: u for u in Upstream.objects.filter(name__in=wanted_upstreams)}
    missing = sorted(wanted_upstreams - set(known))
    _require(not missing, f"model {item['name']!r}: unknown upstream(s) {', '.join(missing)}.")
    model = CatalogModel.objects.filter(name=item["name"]).first()
    created = model is None
    model = model or CatalogModel(name=item["name"])
    upstream_model = item.get("upstream_model", "") or ""
    changed = ["upstream_model"] if model.upstream_model != upstream_model else []
    model.upstream_model = upstream_model
    kind = item.get("kind", "")
    if model.kind != kind:
        changed.append("kind")
        model.kind = kind
    price = item.get("price", {})
    wanted = {
        "price_input_per_million": price.get("input_per_million"),
        "price_output_per_million": price.get("output_per_million"),
        "price_per_request": price.get("per_request"),
        "max_output_tokens": item.get("max_output_tokens"),
    }
    for field, value in wanted.items():
        value = None if value is None else money_parse(value) if field.startswith("price") else value
        if getattr(model, field) != value:
            changed.append(field)
            setattr(model, field, value)
    try:
        model.full_clean(exclude=["upstreams", "plans"])
    except ValidationError as exc:
        raise CatalogueFileError(f"model {item['name']!r}: {'; '.join(exc.messages)}") from exc
    if created or changed:
        model.save()
    if created or set(model.upstreams.values_list("name", flat=True)) != wanted_upstreams:
        model.upstreams.set(known.values())
        changed.append("upstreams")
    return Change("model", model.name, _action(created, changed), ", ".join(changed))


def _grants(plan_name: str, model_names: list[str]) -> Change:
    plan = Plan.objects.filter(name=plan_name).first()
    _require(plan is not None, f"plans: unknown plan {plan_name}.")
    models = {m.name: m for m in CatalogModel.objects.filter(name__in=model_names)}
    missing = sorted(set(model_names) - set(models))
    _require(not missing, f"plans.{plan_name}: unknown model(s) {', '.join(missing)}.")
    current = set(plan.models.values_list("name", flat=True))
    if current == set(models):
        return Change("plan", plan_name, "same")
    plan.models.set(models.values())
    return Change("plan", plan_name, "update", f"grants {', '.join(sorted(models)) or 'every model'}")


def catalogue_load(
    *,
    data: dict,
    dry_run: bool = False,
    allow_unset_env: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Change]:
    """Apply the file: all of it or, on any error, none of it. With dry_run, report without saving.
    `progress(done, total)` is told as entries are applied."""
    catalogue_check(data)
    steps = [partial(_upstream, item, allow_unset_env) for item in data.get("upstreams", [])]
    steps += [partial(_model, item) for item in data.get("models", [])]
    steps += [partial(_grants, name, models) for name, models in data.get("plans", {}).items()]
    changes = []
    with transaction.atomic():
        for step in steps:
            changes.append(step())
            if progress is not None:
                progress(len(changes), len(steps))
        if dry_run:
            transaction.set_rollback(True)
    return changes
