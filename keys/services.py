"""Changes to plans and keys. Every function here leaves nothing half-made when it fails."""

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from keys.backends import get_backend
from keys.crypto import key_generate, key_hash
from keys.exceptions import KeyAlreadyExists, KeyBackendError, KeyRevoked, PlanNotFound
from keys.metering import forget_key
from keys.models import ApiKey, Plan

logger = logging.getLogger(__name__)


def _plan_for(plan_name: str) -> Plan:
    plan = Plan.objects.filter(name=plan_name, is_active=True).first()
    if plan is None:
        raise PlanNotFound(f"Unknown plan {plan_name!r}. GET /plan lists the plans you can choose.")
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


def key_create(*, owner: AbstractBaseUser, plan_name: str, label: str = "") -> tuple[ApiKey, str]:
    """Create `owner`'s key in the plan; return it with its plaintext, which is never stored."""
    plan = _plan_for(plan_name)
    if ApiKey.objects.filter(owner=owner, plan=plan, revoked_at__isnull=True).exists():
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
            label=label.strip()[:100],
            prefix=prefix,
            hashed_secret=key_hash(plaintext),
            backend_id=backend_id,
        ),
    )
    logger.info("key %s created for user %s in plan %s", key.public_prefix, owner.pk, plan.name)
    return key, plaintext


def key_revoke(*, key: ApiKey) -> ApiKey:
    """Stop the key working at once. Revocation is one-way."""
    if key.revoked_at is not None:
        raise KeyRevoked()
    # Remote first: if the backend cannot revoke, the local record must keep saying "active".
    get_backend().revoke_key(api_key=key)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _forget(key)
    logger.info("key %s revoked", key.public_prefix)
    return key


def key_rotate(*, key: ApiKey) -> tuple[ApiKey, str]:
    """Replace the key's secret: a new key in the same plan and label; the old one stops working."""
    if key.revoked_at is not None:
        raise KeyRevoked("A revoked key cannot be rotated; generate a new key instead.")
    backend = get_backend()
    prefix, plaintext = key_generate()
    backend_id = backend.rotate_key(api_key=key, owner_email=key.owner.email, plaintext=plaintext)

    def build() -> ApiKey:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        return ApiKey.objects.create(
            owner=key.owner,
            plan=key.plan,
            label=key.label,
            prefix=prefix,
            hashed_secret=key_hash(plaintext),
            backend_id=backend_id,
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
    return new_key, plaintext


def _forget(key: ApiKey) -> None:
    """After the revocation commits, tell the quota store and this process's key cache."""
    transaction.on_commit(lambda: forget_key(key_id=key.pk, prefix=key.prefix))
