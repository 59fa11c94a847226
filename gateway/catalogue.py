"""The catalogue as the gateway reads it: a snapshot in memory, reloaded every few seconds.

With an empty catalogue, every model name goes to the upstream of the LLM_* settings (or the demo
model), exactly as before the catalogue existed.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import lru_cache

from gateway.app_settings import app_settings
from gateway.upstreams import BaseUpstream, client_for, get_upstream
from gateway.upstreams.misconfigured import MisconfiguredUpstream
from keys.money import Price
from plumbing.dbthread import in_db_thread

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """One upstream that serves a model, and the name it serves it under."""

    upstream_id: int | None
    upstream_name: str
    client: BaseUpstream
    weight: int
    model: str


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    targets: tuple[Target, ...]
    kind: str = ""  # what the model does; empty: not known (no catalogue)
    admits_itself: bool = False  # the upstream admits by its own quotas (API Gateway): Tollgate does not meter
    price: Price | None = None  # None: free
    max_output: int | None = None  # the most a call naming no max_tokens may take; None: the default


@dataclass(frozen=True, slots=True)
class _Entry:
    targets: tuple[Target, ...]
    plan_ids: frozenset[int]  # empty: every plan that grants nothing in particular
    kind: str
    price: Price | None = None
    max_output: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    entries: dict[str, _Entry]
    restricted_plans: frozenset[int]  # plans that grant a chosen set of models

    @property
    def empty(self) -> bool:
        return not self.entries

    def granted(self, plan_id: int, kind: str = "") -> list[str]:
        """The model names `plan_id` may use (of `kind` only, if given), sorted."""
        restricted = plan_id in self.restricted_plans
        return sorted(
            name
            for name, entry in self.entries.items()
            if (not restricted or plan_id in entry.plan_ids) and (not kind or entry.kind == kind)
        )

    def route(self, model: str, plan_id: int) -> Route | None:
        """Where to send `model` for a key in `plan_id`; None if it does not exist or is not granted."""
        if self.empty:
            return _default_route(model, get_upstream())
        entry = self.entries.get(model)
        if entry is None or not entry.targets:
            return None
        if plan_id in self.restricted_plans and plan_id not in entry.plan_ids:
            return None
        return Route(model, entry.targets, entry.kind, price=entry.price, max_output=entry.max_output)


@lru_cache(maxsize=1024)
def _default_route(model: str, client: BaseUpstream) -> Route:
    """Without a catalogue every model goes to the LLM_* upstream, under the name it was asked by."""
    return Route(model, (Target(None, "default", client, 1, model),))


def snapshot_load() -> Snapshot:
    from gateway.models import CatalogModel

    entries: dict[str, _Entry] = {}
    restricted: set[int] = set()
    rows = CatalogModel.objects.filter(enabled=True).prefetch_related("upstreams", "plans")
    for row in rows:
        plan_ids = frozenset(plan.pk for plan in row.plans.all())
        restricted |= plan_ids
        targets = tuple(
            Target(u.pk, u.name, _client(u), u.weight, row.served_as) for u in row.upstreams.all() if u.enabled
        )
        usable = tuple(t for t in targets if not isinstance(t.client, MisconfiguredUpstream))
        targets = usable or targets  # with none usable, calls fail with upstream_misconfigured, uncharged
        entries[row.name] = _Entry(targets, plan_ids, row.effective_kind, row.price, row.max_output_tokens)
    return Snapshot(entries, frozenset(restricted))


_told: set[tuple[str, str]] = set()


def _client(upstream) -> BaseUpstream:
    """The upstream's client; one that fails at once if its credentials cannot be used here."""
    problem = upstream.misconfiguration
    if not problem:
        return client_for(upstream.base_url, upstream.api_key, upstream.timeout, upstream.max_concurrent or 0)
    if (upstream.name, problem) not in _told:  # said once per process, not once per reload
        _told.add((upstream.name, problem))
        logger.error("upstream %s will not be called: %s", upstream.name, problem)
    return MisconfiguredUpstream(upstream.name, problem)


class _Cache:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.expires = 0.0
        self._reloading: asyncio.Task | None = None

    async def get(self) -> Snapshot:
        if self.snapshot is not None and time.monotonic() < self.expires:
            return self.snapshot
        # One reload at a time, however many requests find the copy out of date at once.
        loop = asyncio.get_running_loop()
        if self._reloading is None or self._reloading.done() or self._reloading.get_loop() is not loop:
            self._reloading = loop.create_task(self._reload())
        return await asyncio.shield(self._reloading)

    async def _reload(self) -> Snapshot:
        try:
            snapshot = await in_db_thread(snapshot_load)
        except Exception:
            if self.snapshot is None:
                raise
            # The database is away: keep serving what it last said, and ask again in a moment.
            logger.warning("catalogue reload failed; serving the last snapshot", exc_info=True)
            self.expires = time.monotonic() + 1.0
            return self.snapshot
        self.snapshot, self.expires = snapshot, time.monotonic() + app_settings.GATEWAY_CATALOGUE_SECONDS
        return snapshot

    def forget(self) -> None:
        self.snapshot, self._reloading = None, None


_cache = _Cache()


async def catalogue() -> Snapshot:
    """The current snapshot; staff changes reach every process within GATEWAY_CATALOGUE_SECONDS."""
    return await _cache.get()


def catalogue_forget() -> None:
    """Drop this process's snapshot (after a change here, and in tests)."""
    _cache.forget()


def plan_models(*, plan_id: int) -> list[str] | None:
    """The models a plan grants (KEYS_PLAN_MODELS, for key scopes); None without a catalogue, where any
    name goes to the LLM_* upstream."""
    snapshot = snapshot_load()
    return None if snapshot.empty else snapshot.granted(plan_id)
