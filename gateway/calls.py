"""The one door for a model call: route or refusal, admission, relay with failover, tokens, refund or record.

/v1, the chat socket and /query all call through here; they only translate into HTTP, frames and text.
"""

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from gateway import balancer, metrics, tracing
from gateway.app_settings import app_settings
from gateway.bodies import ModelRequest
from gateway.catalogue import Route, Target, catalogue, snapshot_load
from gateway.costs import call_reservation, estimate_completion, estimate_prompt
from gateway.errors import AdmissionRefused, UpstreamError, UpstreamRefused
from gateway.metrics import socket_closed, socket_opened
from gateway.notes import CallNote, current_note, note_begin
from gateway.sse import (
    EventSplitter,
    body_text_bytes,
    body_usage_tokens,
    carries_usage,
    delta_text,
    event_payload,
    event_text,
    event_usage,
    usage_tokens,
)
from gateway.streams import Stream
from gateway.tracing import child_begin as trace_child_begin
from gateway.tracing import child_end as trace_child_end
from gateway.tracing import request_begin as trace_begin
from gateway.tracing import request_detach as trace_detach
from gateway.tracing import request_end as trace_end
from gateway.upstreams import aws_gateway_upstream, default_model
from keys import metering
from keys.backends import get_backend
from keys.metering import NOTHING, Admission, KeyInfo, RefusalCode, Reservation, Verdict

__all__ = [
    "CHAT_PATH",
    "Call",
    "CallNote",
    "CallRefused",
    "NoRoute",
    "Refused",
    "UpstreamError",
    "UpstreamRefused",
    "authenticate",
    "call_admit",
    "chat_request",
    "currency",
    "default_model",
    "key_load",
    "note_begin",
    "plan_models",
    "route_find",
    "socket_closed",
    "socket_opened",
    "trace_begin",
    "trace_child_begin",
    "trace_child_end",
    "trace_detach",
    "trace_end",
]
logger = logging.getLogger(__name__)
T = TypeVar("T")
CHAT_PATH = "/chat/completions"
# Refusals that are demand turned away by a limit: counted for the metrics and the Refusal rows.
_LIMITS = frozenset(
    {RefusalCode.REQUESTS, RefusalCode.TOKENS, RefusalCode.THROTTLE, RefusalCode.BUDGET, RefusalCode.KEY_REQUESTS}
)


@dataclass(frozen=True, slots=True)
class NoRoute:
    """The model does not exist, or the key's plan does not grant it."""

    model: str
    granted: list[str]


@dataclass(frozen=True, slots=True)
class Refused:
    """Not admitted: one code, and what the caller needs to say so."""

    code: RefusalCode
    info: KeyInfo
    admission: Admission | None = None
    retry_after: float = 0.0


async def authenticate(raw: str) -> KeyInfo | None:
    """The key's facts if `raw` is a known key (an expired one too: admission refuses it by code)."""
    return _noted(await metering.authenticate(raw))


async def key_load(key_id: int) -> KeyInfo | None:
    """A key's facts by id, for callers that already know whose key it is (the chat page)."""
    return _noted(await metering.key_load(key_id))


def _noted(info: KeyInfo | None) -> KeyInfo | None:
    note = current_note.get()
    if note is not None and info is not None:
        note.user_id, note.team_id, note.key_prefix = info.owner_id, info.team_id, info.public_prefix
    return info


async def route_find(*, info: KeyInfo, model: str | None, user_key: str | None = None) -> Route | NoRoute:
    """Where `model` (or the default model) is served for this key's plan.

    With a key backend that admits requests in front of the LLM (API Gateway) and the user's own
    key given, the route is that gateway, which checks the key and admits by its usage plan.
    """
    name = model or default_model()
    note = current_note.get()
    if note is not None:
        note.model = name
    if not name:
        return NoRoute("", [])
    gateway_url = get_backend().external_gateway_url() if user_key is not None else ""
    if gateway_url:
        # API Gateway fronts one LLM: the name it is asked by is LLM_MODEL's, as before the door.
        name = model or app_settings.LLM_MODEL or "default"
        target = Target(None, "api-gateway", aws_gateway_upstream(gateway_url, user_key), 1, name)
        return Route(name, (target,), admits_itself=True)
    snapshot = await catalogue()
    route = snapshot.route(name, info.plan_id)
    if route is not None and (not info.allowed_models or name in info.allowed_models):
        return route
    if note is not None:
        note.refusal = "model_not_found"
    return NoRoute(name, key_models(info, snapshot.granted(info.plan_id)))


def key_models(info: KeyInfo, granted: list[str]) -> list[str]:
    """Of the models the plan grants, those the key may call (its allow-list, if it has one)."""
    if not info.allowed_models:
        return granted
    return [name for name in granted if name in info.allowed_models] if granted else sorted(info.allowed_models)


async def call_admit(
    *, info: KeyInfo, route: Route, request: ModelRequest | None = None, completes: bool = True
) -> "Call | Refused":
    """Spend one request of the key's quota on a call along `route`, or say why not.

    For plans with a token limit or a budget it also reserves the most the call may cost: from
    `request` if given, else when the call opens with its request (the chat builds it later).
    `completes`: the endpoint answers with generated tokens (chat, completions, responses).
    """
    span = tracing.child_begin("admission")
    if span is None:
        return await _admit(info=info, route=route, request=request, completes=completes)
    try:
        admitted = await _admit(info=info, route=route, request=request, completes=completes)
    except Exception as exc:
        tracing.child_end(span, error=type(exc).__name__)
        raise
    refusal = admitted.code.value if isinstance(admitted, Refused) else ""
    tracing.admission_end(span, plan=admitted.info.plan_name, refusal=refusal)
    return admitted


async def _admit(*, info: KeyInfo, route: Route, request: ModelRequest | None, completes: bool) -> "Call | Refused":
    metrics.note(model=model_label(route), plan=info.plan_name)
    if info.expired:
        return _refused(info, RefusalCode.EXPIRED)
    if route.admits_itself:
        return Call(info, route, None)
    reservation = call_reservation(info=info, route=route, request=request, completes=completes)
    try:
        verdict = await metering.admit(info, reservation)
    except Exception:
        logger.exception("quota check failed")
        verdict = Verdict(refusal=RefusalCode.UNAVAILABLE)
    moved = verdict.info is not None and verdict.info.reserves != info.reserves
    info = verdict.info or info  # the key moved plans since its facts were cached
    if verdict.refusal is not None:
        return _refused(info, verdict.refusal, verdict.admission, verdict.retry_after)
    # Moved into a plan that reserves, the call was admitted with the old plan's (empty) reservation:
    # it tops up when it opens, as a chat turn does.
    reserved_for = None if moved else request
    return Call(info, route, verdict.admission, reservation, reserved_for=reserved_for, completes=completes)


def currency() -> str:
    """The currency of prices, budgets and spend."""
    from keys.app_settings import app_settings as keys_settings

    return keys_settings.TOLLGATE_CURRENCY


def model_label(route: Route) -> str:
    """The model as the metrics name it: a catalogue name or the default model, else "other".

    Without a catalogue any name a client sends is routed; as a label each would mint a series.
    """
    if route.targets and route.targets[0].upstream_id is None and route.model != default_model():
        return "other"
    return route.model


def _refused(info: KeyInfo, code: RefusalCode, admission: Admission | None = None, retry: float = 0.0) -> Refused:
    """The one place a refusal is counted."""
    if code in _LIMITS:
        metrics.count_refusal(info.plan_name, code.value)
        metering.refusal_record(info, code)
    note = current_note.get()
    if note is not None:
        note.refusal = code.value
    return Refused(code, info, admission, retry)


def plan_models(plan_ids: Iterable[int], kind: str = "") -> dict[int, list[str]]:
    """The model names each plan grants (of `kind` only, if given), for pages (reads the database);
    empty without a catalogue."""
    snapshot = snapshot_load()
    return {} if snapshot.empty else {plan_id: snapshot.granted(plan_id, kind) for plan_id in plan_ids}


def chat_request(*, model: str, messages: list[dict]) -> ModelRequest:
    """A streamed chat completion of `messages`, as the chat page and /query ask for one."""
    payload = {"model": model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    return ModelRequest(model=model, stream=True, raw=json.dumps(payload).encode(), payload=payload)


class CallRefused(Exception):
    """The upstream admits requests itself and refused this call; `refused` says why."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.code)
        self.refused = refused


@dataclass(slots=True)
class Tally:
    """Tokens an answer reported so far, and the text it delivered (to estimate tokens it did not report)."""

    prompt: int = 0
    completion: int = 0
    reported: bool = False
    text_bytes: int = 0
    text_chunks: int = 0


class Call:
    """One admitted call. It settles exactly once: refunded if no upstream answered, else recorded.

    Raises UpstreamError or UpstreamRefused when the upstream did not answer (refunded), and
    CallRefused when an upstream that admits by itself said no.
    """

    def __init__(
        self,
        info: KeyInfo,
        route: Route,
        admission: Admission | None,
        reservation: Reservation = NOTHING,
        *,
        reserved_for: ModelRequest | None = None,
        completes: bool = True,
    ) -> None:
        self.info, self.route, self.admission, self.reservation = info, route, admission, reservation
        self.tally = Tally()
        self.note = current_note.get()
        self.wants_usage = True
        self.completes = completes
        self._request = reserved_for
        self._reserved_whole = reserved_for is not None or not info.reserves or admission is None
        # Tokens count against a limit or a budget: delivered text is counted, to estimate what goes
        # unreported. Other plans' streams are relayed without reading each event.
        self._counting = admission is not None and info.reserves
        self._period = admission.period if admission is not None else None
        self._stream: Stream | None = None
        self._started = 0.0
        self._settled = False
        # Counted by the quota: if this process dies before the call ends, its spool says so.
        self._spooled = metering.call_began(info, route.model) if admission is not None else 0
        self.delivered = False  # some answer text reached the client: a break-off is charged, not refunded

    async def _reserve_whole(self, request: ModelRequest) -> None:
        """Now the request is known: top up the reservation to the most it may cost, or refuse the call."""
        self._request = request
        if self._reserved_whole:
            return
        self._reserved_whole = True
        whole = call_reservation(info=self.info, route=self.route, request=request, completes=self.completes)
        more = Reservation(max(whole.tokens - self.reservation.tokens, 0), max(whole.nanos - self.reservation.nanos, 0))
        whole = Reservation(self.reservation.tokens + more.tokens, self.reservation.nanos + more.nanos)
        if not (more.tokens or more.nanos):
            return
        try:
            verdict = await metering.reserve_more(self.info, more)
        except Exception:
            logger.exception("quota check failed")
            verdict = Verdict(refusal=RefusalCode.UNAVAILABLE)
        if verdict.refusal is not None:
            await self._refund()
            raise CallRefused(_refused(self.info, verdict.refusal, verdict.admission, verdict.retry_after))
        self.reservation = whole

    async def answer(self, path: str, request: ModelRequest) -> tuple[bytes, str]:
        """The whole answer and its content type, recorded with the tokens it reports."""

        async def attempt(target: Target) -> tuple[bytes, str]:
            return await target.client.request("POST", path, request.body_for(target.model), _headers(request))

        await self._reserve_whole(request)
        self._started = time.monotonic()
        try:
            (answer, content_type), target = await self._with_failover(attempt)
        except (UpstreamError, UpstreamRefused, AdmissionRefused) as exc:
            await self._not_answered(exc)
        self._answered_by(target)
        self.tally.prompt, self.tally.completion = body_usage_tokens(answer)
        self.tally.reported = bool(self.tally.prompt or self.tally.completion)
        if self._counting and not self.tally.reported:
            self.tally.text_bytes = body_text_bytes(answer)
        self._record()
        return answer, content_type

    async def open(self, path: str, request: ModelRequest, *, asks_usage: bool = True) -> None:
        """Open the streamed answer; `asks_usage` adds stream_options.include_usage to count its tokens."""
        payload = request.payload or {}
        # Chat and text completions report usage in a stream only when asked; the client may not have.
        self.wants_usage = not asks_usage or bool((payload.get("stream_options") or {}).get("include_usage"))

        async def attempt(target: Target) -> Stream:
            body = request.body_for(target.model, include_usage=asks_usage)
            return await target.client.stream(path, body, _headers(request))

        await self._reserve_whole(request)
        self._started = time.monotonic()
        try:
            self._stream, target = await self._with_failover(attempt)
        except (UpstreamError, UpstreamRefused, AdmissionRefused) as exc:
            await self._not_answered(exc)
        self._answered_by(target)
        if self.note is not None:
            self.note.stream = True

    async def events(self) -> AsyncIterator[bytes]:
        """The stream's whole events as they arrive, a chunk's worth at a time, their usage noted.

        Recorded when the stream ends. If the upstream breaks off, UpstreamError is raised: refunded
        if no answer text had arrived, else charged for what did (`delivered`).
        """
        splitter = EventSplitter()
        try:
            async for chunk in self._stream.chunks():
                out = splitter.complete(chunk)
                if out and self._counting:
                    self._count_text(out)
                if out and not self.delivered:
                    self.delivered = self.tally.text_chunks > 0 or _carries_text(out)
                if out and b'"usage"' in out:
                    out = b"".join(self._noting_usage(splitter.events(out)))
                if out:
                    yield out
        except UpstreamError:
            if self.delivered:
                self._record()
            else:
                await self._refund()
            raise
        rest = splitter.rest()
        if rest:
            yield rest
        self._record()

    async def texts(self) -> AsyncIterator[str]:
        """The answer's text as it arrives."""
        async for out in self.events():
            for event in EventSplitter.events(out):
                data = event_payload(event)
                text = delta_text(data) if data else ""
                if text:
                    yield text

    def abandon(self) -> None:
        """The client left or stopped the answer: end the upstream request and charge what arrived."""
        if self._stream is not None:
            self._stream.close()
        self._record()

    async def _with_failover(self, attempt: Callable[[Target], Awaitable[T]]) -> tuple[T, Target]:
        """balancer.with_failover, traced as the call's upstream span when tracing is on."""
        span = tracing.child_begin("upstream")
        if span is None:
            return await balancer.with_failover(self.route, attempt)
        tried: list[Target] = []

        async def counted(target: Target) -> T:
            tried.append(target)
            return await attempt(target)

        try:
            answered = await balancer.with_failover(self.route, counted)
        except Exception as exc:
            tracing.upstream_end(span, tried, exc)
            raise
        tracing.upstream_end(span, tried)
        return answered

    def _answered_by(self, target: Target) -> None:
        if self.note is not None:
            self.note.upstream = target.upstream_name

    def _count_text(self, out: bytes) -> None:
        for event in EventSplitter.events(out):
            data = event_payload(event)
            text = event_text(data) if data else ""
            if text:
                self.tally.text_bytes += len(text.encode())
                self.tally.text_chunks += 1

    def _noting_usage(self, events: list[bytes]) -> list[bytes]:
        kept = []
        for event in events:
            if carries_usage(event):
                data = event_payload(event) or {}
                self.tally.prompt, self.tally.completion = usage_tokens(event_usage(data))
                self.tally.reported = True
                if not self.wants_usage and not data.get("choices"):
                    continue  # asked for by Tollgate, not by the client
            kept.append(event)
        return kept

    async def _not_answered(self, exc: Exception) -> None:
        metrics.note(upstream_seconds=time.monotonic() - self._started)
        await self._refund()
        if isinstance(exc, AdmissionRefused):
            raise CallRefused(_refused(self.info, RefusalCode(exc.code))) from exc
        raise exc

    async def refund(self) -> None:
        """Give the request back without calling the model (the caller found nothing to ask it)."""
        await self._refund()

    async def _refund(self) -> None:
        if self._settled:
            return
        self._settled = True
        if self.admission is not None:
            await metering.refund(self.info, self.reservation, self._period, call=self._spooled)

    def _record(self) -> None:
        if self._settled:
            return
        self._settled = True
        if self._started:
            metrics.note(upstream_seconds=time.monotonic() - self._started)
        prompt, completion, nanos = self._cost()
        metrics.count_tokens(model_label(self.route), prompt, completion)
        if self.note is not None:
            self.note.prompt_tokens, self.note.completion_tokens, self.note.cost_nanos = prompt, completion, nanos
        if self.admission is None:  # admitted by the upstream's own gateway: statistics only
            metering.record_usage(
                self.info, model=self.route.model, prompt_tokens=prompt, completion_tokens=completion, nanos=nanos
            )
            return
        metering.settle(
            self.info,
            self.reservation,
            model=self.route.model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            nanos=nanos,
            period=self._period,
            call=self._spooled,
        )

    def _cost(self) -> tuple[int, int, int]:
        """Tokens and nanos to charge: as reported, else estimated; never more than was reserved."""
        tally, price = self.tally, self.route.price
        prompt, completion = tally.prompt, tally.completion
        if self._counting and not tally.reported:
            prompt = estimate_prompt(self._request.payload if self._request else None)
            completion = estimate_completion(tally.text_bytes, tally.text_chunks) if self.completes else 0
        nanos = price.cost(prompt, completion) if price is not None else 0
        if self.info.reserves and self.admission is not None:
            if prompt + completion > self.reservation.tokens or nanos > self.reservation.nanos:
                logger.warning(
                    "a call of key %s cost more than it reserved (%d tokens, %d nanos); charged its reservation",
                    self.info.public_prefix, prompt + completion, nanos,
                )  # fmt: skip
                prompt = min(prompt, self.reservation.tokens)
                completion = min(completion, self.reservation.tokens - prompt)
                nanos = min(nanos, self.reservation.nanos)
        return prompt, completion, nanos


def _carries_text(out: bytes) -> bool:
    """Whether events hold answer text, told cheaply (a role-only first chunk holds none)."""
    if b'"content"' not in out and b'"text"' not in out and b'"delta"' not in out:
        return False
    return any(event_text(event_payload(event) or {}) for event in EventSplitter.events(out))


def _headers(request: ModelRequest) -> dict:
    return {"content-type": request.content_type}
