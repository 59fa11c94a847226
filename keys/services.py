"""Changes to plans and keys. Every function here leaves nothing half-made when it fails."""

import datetime
import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from keys.backends import get_backend
from keys.crypto import key_generate, key_hash
from keys.exceptions import (
    BadExpiry,
    KeyAlreadyExists,
    KeyBackendError,
    KeyExpired,
    KeyRevoked,
    KeyServiceError,
    NeedsOwnGateway,
    PlanNotFound,
    SamePlan,
)
from keys.metering import carry_over, carry_over_period, forget_key
from keys.models import EXPIRY_WARNING, ApiKey, KeyCounter, Plan, QuotaCounter
from keys.periods import period_current
from keys.scopes import allowed_ips_clean, allowed_models_clean, max_requests_clean, plan_models
from keys.signals import key_created, key_expiring, key_revoked, key_rotated, key_scoped, key_switched

logger = logging.getLogger(__name__)


def _plan_for(plan_name: str) -> Plan:
    plan = Plan.objects.filter(name=plan_name, is_active=True).first()
    if plan is None:
        raise PlanNotFound(
            format_lazy(_("Unknown plan '{plan}'. GET /plan lists the plans you can choose."), plan=plan_name)
        )
    return plan


def _record_or_roll_back(*, backend, backend_id: str, build) -> ApiKey:
    """Write the local record; if that fails, delete the remote key so nothing is orphaned."""
    try:
        with transaction.atomic():
            return build()
    except IntegrityError as exc:
        backend.delete_key(backend_id=backend_id)
        raise KeyAlreadyExists() from exc
    except BaseException:
        backend.delete_key(backend_id=backend_id)
        raise


MAX_KEY_DAYS = 3650


def key_expiry(*, plan: Plan, expires_in_days: int | None) -> datetime.datetime | None:
    """When a new key in `plan` expires: as asked, capped by the plan's maximum (its default too)."""
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_KEY_DAYS
    ):
        raise BadExpiry()
    if plan.max_key_days:
        if expires_in_days is None:
            expires_in_days = plan.max_key_days
        elif expires_in_days > plan.max_key_days:
            raise BadExpiry(
                format_lazy(_("Keys in {plan} live at most {days} days."), plan=plan.name, days=plan.max_key_days)
            )
    return timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None


def _active_keys(*, owner_id: int, plan: Plan, team_id: int | None):
    """The keys holding the owner's one active place in the plan: personal, or in the team."""
    return ApiKey.objects.filter(owner_id=owner_id, plan=plan, team_id=team_id, revoked_at__isnull=True)


def _retire_expired(*, owner: AbstractBaseUser, plan: Plan, team_id: int | None = None) -> None:
    """An expired key still holds its plan's one active place: revoke it, so a new key can take it."""
    for key in _active_keys(owner_id=owner.pk, plan=plan, team_id=team_id).filter(expires_at__lte=timezone.now()):
        key_revoke(key=key, because="expired")


def key_create(
    *,
    owner: AbstractBaseUser,
    plan_name: str,
    label: str = "",
    expires_in_days: int | None = None,
    team_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Create `owner`'s key in the plan (a team key, drawing on the team's quota, if `team_id` is
    given: the caller checks membership); return it with its plaintext, which is never stored."""
    plan = _plan_for(plan_name)
    if team_id is not None and get_backend().external_gateway_url():
        raise NeedsOwnGateway()
    expires_at = key_expiry(plan=plan, expires_in_days=expires_in_days)
    _retire_expired(owner=owner, plan=plan, team_id=team_id)
    if _active_keys(owner_id=owner.pk, plan=plan, team_id=team_id).exists():
        raise KeyAlreadyExists()
    backend = get_backend()
    prefix, plaintext = key_generate()
    backend_id = backend.create_key(owner_email=owner.email, plan=plan, plaintext=plaintext)
    key = _record_or_roll_back(
        backend=backend,
        backend_id=backend_id,
        build=lambda: ApiKey.objects.create(
            owner=owner,
            plan=plan,
            team_id=team_id,
            label=label.strip()[:100],
            prefix=prefix,
            hashed_secret=key_hash(plaintext),
            backend_id=backend_id,
            expires_at=expires_at,
        ),
    )
    logger.info("key %s created for user %s in plan %s", key.public_prefix, owner.pk, plan.name)
    key_created.send_robust(sender=ApiKey, key=key)
    return key, plaintext


def key_revoke(*, key: ApiKey, because: str = "revoked") -> ApiKey:
    """Stop the key working at once. Revocation is one-way. `because`: revoked, or expired."""
    if key.revoked_at is not None:
        raise KeyRevoked()
    # Remote first: if the backend cannot revoke, the local record must keep saying "active".
    get_backend().revoke_key(api_key=key)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _forget(key)
    logger.info("key %s %s", key.public_prefix, because)
    key_revoked.send_robust(sender=ApiKey, key=key, because=because)
    return key


def key_rotate(*, key: ApiKey) -> tuple[ApiKey, str]:
    """Replace the key's secret: a new key in the same plan and label; the old one stops working."""
    if key.revoked_at is not None:
        raise KeyRevoked(_("A revoked key cannot be rotated; generate a new key instead."))
    if key.is_expired:
        raise KeyExpired()
    backend = get_backend()
    prefix, plaintext = key_generate()
    backend_id = backend.rotate_key(api_key=key, owner_email=key.owner.email, plaintext=plaintext)

    def build() -> ApiKey:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        return _with_cap_counts_of(
            key,
            ApiKey.objects.create(
                owner=key.owner,
                plan=key.plan,
                team_id=key.team_id,
                label=key.label,
                prefix=prefix,
                hashed_secret=key_hash(plaintext),
                backend_id=backend_id,
                expires_at=key.expires_at,
                allowed_ips=key.allowed_ips,
                allowed_models=key.allowed_models,
                max_requests=key.max_requests,
            ),
        )

    try:
        new_key = _record_or_roll_back(backend=backend, backend_id=backend_id, build=build)
    except KeyAlreadyExists:
        key.refresh_from_db()
        raise
    _forget(key)
    try:
        backend.retire_key(api_key=key)
    except KeyBackendError:
        # The replacement works and the old key is revoked here; staff can delete the remote one.
        logger.warning("key %s rotated, but the backend could not retire the old key", key.public_prefix)
    logger.info("key %s rotated to %s", key.public_prefix, new_key.public_prefix)
    key_rotated.send_robust(sender=ApiKey, key=key, new_key=new_key)
    return new_key, plaintext


def key_switch_plan(*, key: ApiKey, plan_name: str) -> ApiKey:
    """Move the key to another plan, keeping its value. The day's count carries over: never refilled."""
    if key.revoked_at is not None:
        raise KeyRevoked(_("A revoked key cannot switch plans."))
    if key.is_expired:
        raise KeyExpired(_("This key has expired; generate a new key in the plan you want instead."))
    plan = _plan_for(plan_name)
    if plan.pk == key.plan_id:
        raise SamePlan()
    if _active_keys(owner_id=key.owner_id, plan=plan, team_id=key.team_id).exists():
        raise KeyAlreadyExists(format_lazy(_("You already have an active key in {plan}."), plan=plan.name))
    old_plan, old_expiry, backend = key.plan, key.expires_at, get_backend()
    backend.switch_key_plan(api_key=key, old_plan=old_plan, new_plan=plan)  # remote first, undone below
    try:
        with transaction.atomic():
            key.plan = plan
            if plan.max_key_days:  # the new plan's longest life applies from now
                latest = timezone.now() + datetime.timedelta(days=plan.max_key_days)
                key.expires_at = min(key.expires_at or latest, latest)
            # The new plan may grant other models, and a cap must stay under its limit.
            key.allowed_models = _models_kept(key.allowed_models, plan)
            key.max_requests = _cap_under(key.max_requests, plan)
            key.save(update_fields=["plan", "expires_at", "allowed_models", "max_requests"])
            # After the save, in the same transaction: the stores refuse the old plan for this key from
            # here on, so nothing admitted there after the count was carried is missed.
            carry_over(owner_id=key.holder_id, key_id=key.pk, from_plan=old_plan, to_plan=plan)
            _cap_count_carry(key, from_plan=old_plan, to_plan=plan)
    except BaseException as exc:
        key.plan, key.expires_at = old_plan, old_expiry
        backend.switch_key_plan(api_key=key, old_plan=plan, new_plan=old_plan)
        if isinstance(exc, IntegrityError):
            raise KeyAlreadyExists(format_lazy(_("You already have an active key in {plan}."), plan=plan.name)) from exc
        raise
    _forget(key)
    logger.info("key %s switched from %s to %s", key.public_prefix, old_plan.name, plan.name)
    key_switched.send_robust(sender=ApiKey, key=key, old_plan=old_plan)
    return key


def _with_cap_counts_of(old: ApiKey, new: ApiKey) -> ApiKey:
    """A rotated key's own cap goes on counting where the old key's stood: rotating never refills it."""
    rows = KeyCounter.objects.filter(key=old).values_list("day", "used")
    KeyCounter.objects.bulk_create([KeyCounter(key=new, day=day, used=used) for day, used in rows])
    return new


def _models_kept(models: list[str], plan: Plan) -> list[str]:
    """Of a key's allowed models, those the new plan grants too. If it grants none of them the key would
    call everything: then it keeps the list, and can call nothing until its owner edits it."""
    granted = plan_models(plan)
    if not models or granted is None:
        return models
    kept = [name for name in models if name in granted]
    return kept or models


def _cap_count_carry(key: ApiKey, *, from_plan: Plan, to_plan: Plan) -> None:
    """The key's own count carries into the new plan's period as the plan's counts do: never lowered."""
    from_day, _ = period_current(from_plan.period, from_plan.time_zone)
    to_day, _ = period_current(to_plan.period, to_plan.time_zone)
    used = KeyCounter.objects.filter(key=key, day=from_day).values_list("used", flat=True).first()
    if from_day == to_day or not used:
        return
    counter, created = KeyCounter.objects.select_for_update().get_or_create(
        key=key, day=to_day, defaults={"used": used}
    )
    if not created and counter.used < used:
        counter.used = used
        counter.save(update_fields=["used"])


def _cap_under(cap: int | None, plan: Plan) -> int | None:
    return None if cap is None or cap >= plan.requests_per_day else cap


_KEEP = object()


def key_scopes_set(*, key: ApiKey, allowed_ips=_KEEP, allowed_models=_KEEP, max_requests=_KEEP) -> ApiKey:
    """Limit where the key may be used from, which of its plan's models it may call, and how many
    requests a period it may make; arguments not given stay as they are. Applies in this process at
    once and in every other within a second. BadScope names the first bad entry."""
    if key.revoked_at is not None:
        raise KeyRevoked(_("A revoked key's scopes cannot change."))
    if get_backend().external_gateway_url():
        raise NeedsOwnGateway()
    fields = []
    if allowed_ips is not _KEEP:
        key.allowed_ips = allowed_ips_clean(allowed_ips)
        fields.append("allowed_ips")
    if allowed_models is not _KEEP:
        key.allowed_models = allowed_models_clean(allowed_models, plan=key.plan)
        fields.append("allowed_models")
    if max_requests is not _KEEP:
        key.max_requests = max_requests_clean(max_requests, plan=key.plan)
        fields.append("max_requests")
    if fields:
        key.save(update_fields=fields)
        _forget(key)
        logger.info("key %s scopes changed: %s", key.public_prefix, ", ".join(fields))
        key_scoped.send_robust(sender=ApiKey, key=key, fields=fields)
    return key


def keys_expire_due() -> int:
    """Revoke every key past its expiry (so a backend such as API Gateway stops it too); how many."""
    done = 0
    for key in ApiKey.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now()).select_related("plan"):
        try:
            key_revoke(key=key, because="expired")
            done += 1
        except KeyServiceError:
            logger.warning("could not revoke expired key %s; will try again", key.public_prefix)
    return done


def plan_period_changed(*, plan: Plan, old_period: str, old_time_zone: str) -> int:
    """After staff change a plan's period or time zone: every owner's count of the period running until
    now carries into the period running from now (never lowering one), so the edit refills nobody's
    quota. How many owners' counts were carried."""
    old_start, _ = period_current(old_period, old_time_zone)
    new_start, _ = period_current(plan.period, plan.time_zone)
    if old_start == new_start:
        return 0
    owners = list(QuotaCounter.objects.filter(plan=plan, day=old_start).values_list("owner_id", flat=True))  # holders
    for owner_id in owners:
        carry_over_period(owner_id=owner_id, plan_id=plan.pk, from_day=old_start, to_day=new_start)
    return len(owners)


def keys_expiring_announce() -> int:
    """Send key_expiring for every active key that expires within EXPIRY_WARNING; how many. Receivers
    post each once per key and expiry, so running this often (cron, expire_keys) is harmless."""
    soon = timezone.now() + EXPIRY_WARNING
    keys = ApiKey.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now(), expires_at__lte=soon)
    count = 0
    for key in keys.select_related("plan", "owner"):
        key_expiring.send_robust(sender=ApiKey, key=key)
        count += 1
    return count


def _forget(key: ApiKey) -> None:
    """After the revocation commits, tell the quota store and this process's key cache."""
    transaction.on_commit(lambda: forget_key(key_id=key.pk, prefix=key.prefix))
