"""One chat turn: keep the user's message, stream the model's answer, keep it, refund on failure."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from channels.db import database_sync_to_async

from chat import messages
from chat.markdown import render_markdown
from chat.models import Conversation, Message
from gateway import balancer, metrics
from gateway import messages as gateway_messages
from gateway.app_settings import app_settings
from gateway.catalogue import Route, Target
from gateway.relay import Tally
from gateway.sse import EventSplitter, carries_usage, delta_text, event_payload, usage_tokens
from gateway.streams import Stream
from gateway.tasks import run_in_background
from gateway.upstream import UpstreamError, UpstreamRefused, upstream_at
from keys import metering
from keys.metering import Admission, KeyInfo

MAX_MESSAGE = 16_000
HISTORY_MESSAGES = 40


@dataclass(frozen=True)
class Started:
    conversation_id: int
    title: str


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    html: str
    remaining: int | None  # None: counted by AWS API Gateway, not by Tollgate
    limit: int | None


@dataclass(frozen=True)
class Failed:
    """The turn failed. `code` is what callers decide by; `message` is for people."""

    NOT_FOUND, LIMIT_EXCEEDED, THROTTLED, UPSTREAM = "not_found", "limit_exceeded", "throttled", "upstream_error"

    status: int
    code: str
    message: str


def _conversation_uuid(text: str) -> uuid.UUID:
    if not text:
        return uuid.uuid4()
    try:
        return uuid.UUID(text)
    except ValueError:  # the seed's clients send whatever id they keep; give it a stable UUID
        return uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate:{text}")


@database_sync_to_async
def _prepare(
    owner_id: int, conversation_id: int | None, conversation_uuid: str | None, content: str | None, model: str
):
    if conversation_id is not None:
        conversation = Conversation.objects.filter(owner_id=owner_id, pk=conversation_id).first()
        if conversation is None:
            return None, []
    elif conversation_uuid is not None:
        conversation, _ = Conversation.objects.get_or_create(
            owner_id=owner_id, uuid=_conversation_uuid(conversation_uuid)
        )
    else:
        conversation = Conversation.objects.create(owner_id=owner_id)
    if content is not None:
        if not conversation.messages.exists():
            conversation.title = " ".join(content.split())[:60] or "New conversation"
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=content)
    conversation.model = model or conversation.model
    conversation.save(update_fields=["title", "model", "updated_at"])
    history = list(conversation.messages.order_by("-created_at", "-id").values("role", "content")[:HISTORY_MESSAGES])
    return conversation, history[::-1]


@database_sync_to_async
def _keep_answer(conversation: Conversation, text: str) -> None:
    if text:
        Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content=text)


def _gateway_refusal(body: bytes) -> Failed:
    """API Gateway's 429 says which limit only in its body: {"message": "Limit Exceeded"} for the
    usage plan's quota, "Too Many Requests" for its throttle. Read it here, once, into a code."""
    try:
        said = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        said = ""
    if said == gateway_messages.LIMIT_EXCEEDED:  # API Gateway's words, always English
        return Failed(429, Failed.LIMIT_EXCEEDED, messages.LIMIT_EXCEEDED)
    return Failed(429, Failed.THROTTLED, messages.TOO_MANY_REQUESTS)


async def _open(route: Route | None, gateway_url: str, gateway_key: str | None, history: list) -> Stream:
    """Open the answer's stream: through API Gateway with the user's key, or by the catalogue's route."""

    def body(model: str) -> bytes:
        payload = {"model": model, "messages": history, "stream": True, "stream_options": {"include_usage": True}}
        return json.dumps(payload).encode()

    if gateway_key:
        model = app_settings.LLM_MODEL or "default"
        return await upstream_at(gateway_url).stream("/chat/completions", body(model), {"x-api-key": gateway_key})

    async def attempt(target: Target) -> Stream:
        return await target.client.stream("/chat/completions", body(target.model))

    stream, _ = await balancer.with_failover(route, attempt)
    return stream


async def _deltas(stream: Stream, tally: Tally) -> AsyncIterator[str]:
    """The answer's text as it arrives, noting the usage the stream reports."""
    splitter = EventSplitter()
    async for chunk in stream.chunks():
        for event in splitter.feed(chunk):
            data = event_payload(event)
            if data is None:
                continue
            if carries_usage(event):
                tally.prompt, tally.completion = usage_tokens(data.get("usage"))
            text = delta_text(data)
            if text:
                yield text


async def reply_stream(
    *,
    info: KeyInfo,
    admission: Admission | None,
    content: str | None,
    conversation_id: int | None = None,
    conversation_uuid: str | None = None,
    route: Route | None = None,
    gateway_url: str = "",
    gateway_key: str | None = None,
) -> AsyncIterator[Started | Delta | Done | Failed]:
    """Answer `content` (None: answer the last message again).

    Either Tollgate already admitted the request (`admission`, refunded if the model fails) and
    `route` says where the model is, or AWS API Gateway admits it: then `gateway_key` is the user's
    key, sent to `gateway_url` only.
    """
    model = route.model if route is not None else ""
    conversation, history = await _prepare(info.owner_id, conversation_id, conversation_uuid, content, model)
    if conversation is None:
        await _refund(info, admission)
        yield Failed(404, Failed.NOT_FOUND, messages.NO_CONVERSATION)
        return
    yield Started(conversation.pk, conversation.title)
    parts: list[str] = []
    tally = Tally()
    stream = None
    try:
        stream = await _open(route, gateway_url, gateway_key, history)
        async for text in _deltas(stream, tally):
            parts.append(text)
            yield Delta(text)
    except UpstreamRefused as exc:
        await _refund(info, admission)
        # A 429 from upstream is API Gateway's usage plan saying no.
        yield _gateway_refusal(exc.body) if exc.status == 429 else Failed(502, Failed.UPSTREAM, messages.MODEL_REFUSED)
        return
    except UpstreamError:
        await _refund(info, admission)
        await _keep_answer(conversation, "".join(parts))
        yield Failed(502, Failed.UPSTREAM, messages.MODEL_FAILED)
        return
    except (asyncio.CancelledError, GeneratorExit):
        # Stopped by the user or the client left: end the upstream request, keep what arrived, charge it.
        if stream is not None:
            stream.close()
        run_in_background(_keep_answer(conversation, "".join(parts)))
        metering.record_usage(info, model=model, prompt_tokens=tally.prompt, completion_tokens=tally.completion)
        raise
    text = "".join(parts)
    metrics.count_tokens(model, tally.prompt, tally.completion)
    await _keep_answer(conversation, text)
    metering.record_usage(info, model=model, prompt_tokens=tally.prompt, completion_tokens=tally.completion)
    remaining, limit = (admission.remaining, admission.limit) if admission else (None, None)
    yield Done(html=render_markdown(text), remaining=remaining, limit=limit)


async def _refund(info: KeyInfo, admission: Admission | None) -> None:
    if admission is not None:
        await metering.refund(info)
