"""The contract every key backend fulfils."""

import datetime

from keys import metering
from keys.models import ApiKey, Plan


class BaseKeyBackend:
    """Where keys and quotas live besides Tollgate's own tables.

    Tollgate always records a key locally (its hash, never its value). A backend makes the key
    exist wherever requests are actually admitted, and must leave nothing behind when it fails.
    """

    # Whether Tollgate's own metering admits requests, so budgets and prices can be enforced.
    meters_money = True

    def __init__(self, **options) -> None:
        self.options = options

    # -- Must be implemented by subclasses ------------------------------------------------------

    def create_key(self, *, owner_email: str, plan: Plan, plaintext: str) -> str:
        """Make `plaintext` a working key in `plan` and return the backend's id for it ('' if none).

        Either the key fully exists and is attached to the plan, or this raises KeyBackendError and
        nothing remains remotely: a backend that fails half-way deletes what it made before raising.
        """
        raise NotImplementedError("subclasses of BaseKeyBackend must provide a create_key() method")

    def delete_key(self, *, backend_id: str) -> None:
        """Delete a key that create_key() returned; used to roll back and to rotate.

        Deleting a key that no longer exists is not an error.
        """
        raise NotImplementedError("subclasses of BaseKeyBackend must provide a delete_key() method")

    def revoke_key(self, *, api_key: ApiKey) -> None:
        """Make the key stop admitting requests at once. Raises KeyBackendError if it could not."""
        raise NotImplementedError("subclasses of BaseKeyBackend must provide a revoke_key() method")

    # -- May be overridden ------------------------------------------------------------------------

    def rotate_key(self, *, api_key: ApiKey, owner_email: str, plaintext: str) -> str:
        """Create the replacement of `api_key` with `plaintext` and return its backend id.

        The old key is retired by retire_key() once the replacement is recorded.
        """
        return self.create_key(owner_email=owner_email, plan=api_key.plan, plaintext=plaintext)

    def retire_key(self, *, api_key: ApiKey) -> None:
        """Remove a key that was replaced by rotation."""
        self.delete_key(backend_id=api_key.backend_id)

    def switch_key_plan(self, *, api_key: ApiKey, old_plan: Plan, new_plan: Plan) -> None:
        """Make the key count against `new_plan` instead of `old_plan`. Raises KeyBackendError, with the
        key left in `old_plan`, if it could not. Tollgate's own quotas need nothing here."""
        return None

    def plans(self) -> list[Plan]:
        """The plans users may pick, in display order."""
        return list(Plan.objects.filter(is_active=True))

    def key_usage(
        self, *, api_key: ApiKey, start: datetime.date, end: datetime.date
    ) -> dict[datetime.date, int] | None:
        """Requests per day as the backend counts them, or None when Tollgate's own count is the truth."""
        return None

    def used_today(self, *, api_key: ApiKey) -> int | None:
        """Requests counted this period against the key's plan, as whatever admits them counts;
        None when that cannot be read just now."""
        return metering.used_sync(owner_id=api_key.holder_id, plan=api_key.plan)

    def external_gateway_url(self) -> str:
        """The URL clients send LLM requests to when something in front of the LLM admits them
        (API Gateway), or '' when Tollgate's own /v1 admits them."""
        return ""

    def plans_sync(self) -> list[str] | None:
        """Push plans to where quotas are enforced; the changes made, or None if nothing is kept elsewhere."""
        return None

    def plan_change_notice(self) -> str:
        """What staff must do after editing a plan for the change to apply ('' if nothing)."""
        return ""
