"""The contract every daily-quota store fulfils."""

import datetime

from keys.metering.types import Admission, KeyInfo


class BaseQuotaStore:
    """Counts requests per owner, plan and UTC day, and admits exactly up to the plan's limit.

    Counting per plan rather than per key means revoking or rotating a key never refills the day.
    """

    # -- Must be implemented by subclasses ------------------------------------------------------

    async def consume(self, info: KeyInfo, day: datetime.date) -> Admission:
        """Count one request if the day's count is under the plan's live limit and the key is not revoked.

        Atomic across every process sharing the store: N concurrent calls against a limit L admit
        exactly min(N, L). A refusal says whether the key was revoked, with the live limit.
        """
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a consume() method")

    async def refund(self, info: KeyInfo, day: datetime.date) -> None:
        """Give back one request counted by consume(); never takes the count below zero."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a refund() method")

    async def used(self, info: KeyInfo, day: datetime.date) -> int:
        """The day's count, without counting one more."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a used() method")

    def used_sync(self, owner_id: int, plan_id: int, day: datetime.date) -> int:
        """used(), for pages and the admin, which run outside the event loop."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a used_sync() method")

    async def take(self, info: KeyInfo, day: datetime.date, wanted: int) -> tuple[int, Admission]:
        """Count up to `wanted` requests at once (a lease), never past the plan's live limit, none for a
        revoked key. Returns how many were granted, and the admission of the first of them."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a take() method")

    async def give_back(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        """Return `count` requests taken but not spent; never takes the count below zero."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a give_back() method")

    def give_back_sync(self, info: KeyInfo, day: datetime.date, count: int) -> None:
        """give_back(), outside the event loop (revocation, process exit)."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a give_back_sync() method")

    def carry_over_sync(self, owner_id: int, from_plan_id: int, to_plan_id: int, day: datetime.date) -> None:
        """Raise the day's count in `to_plan_id` to at least the count in `from_plan_id`, atomically,
        so that moving a key between plans never refills the day. Never lowers a count."""
        raise NotImplementedError("subclasses of BaseQuotaStore must provide a carry_over_sync() method")

    # -- May be overridden ------------------------------------------------------------------------

    def revoke_sync(self, key_id: int) -> None:
        """Learn that a key was revoked, so consume() refuses it at once. A store that reads
        revocation from the database itself need do nothing."""
        return None
