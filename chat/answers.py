"""One chat turn: keep the user's message, stream the model's answer, keep it, refund on failure."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings

from chat import messages
from chat.markdown import render_markdown
from chat.models import Conversation, Message
from chat.sse import EventSplitter, carries_usage, delta_text, event_payload, usage_tokens
from chat.upstream import UpstreamError, UpstreamRefused, default_model, gateway_upstream, get_upstream
from keys.admission import quota_refund
from keys.quota import Admission, KeyInfo, utc_today
from keys.usage import usage_recorder

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
    status: int
    message: str


def _conversation_uuid(text: str) -> uuid.UUID:
    if not text:
        return uuid.uuid4()
    try:
        return uuid.UUID(text)
    except ValueError:  # the seed's clients send whatever id they keep; give it a stable UUID
        return uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate:{text}")


@database_sync_to_async
def _prepare(owner_id: int, conversation_id: int | None, conversation_uuid: str | None, content: str | None):
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
    conversation.save(update_fields=["title", "updated_at"])
    history = list(conversation.messages.order_by("-created_at", "-id").values("role", "content")[:HISTORY_MESSAGES])
    return conversation, history[::-1]


@database_sync_to_async
def _keep_answer(conversation: Conversation, text: str) -> None:
    if text:
        Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content=text)


def _gateway_refusal(body: bytes) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return messages.LIMIT_EXCEEDED if "limit" in str(message).lower() else messages.TOO_MANY_REQUESTS


async def reply_stream(
    *,
    info: KeyInfo,
    admission: Admission | None,
    content: str | None,
    conversation_id: int | None = None,
    conversation_uuid: str | None = None,
    gateway_key: str | None = None,
) -> AsyncIterator[Started | Delta | Done | Failed]:
    """Answer `content` (None: answer the last message again).

    Either Tollgate already admitted the request (`admission`, refunded if the model fails), or
    AWS API Gateway admits it: then `gateway_key` is the user's key, sent to API Gateway only.
    """

    async def refund() -> None:
        if admission is not None:
            await quota_refund(info)

    conversation, history = await _prepare(info.owner_id, conversation_id, conversation_uuid, content)
    if conversation is None:
        await refund()
        yield Failed(404, messages.NO_CONVERSATION)
        return
    yield Started(conversation.pk, conversation.title)
    if gateway_key:
        upstream, headers, model = gateway_upstream(), {"x-api-key": gateway_key}, settings.LLM_MODEL or "default"
    else:
        upstream, headers, model = get_upstream(), None, default_model()
    payload = {"model": model, "messages": history, "stream": True, "stream_options": {"include_usage": True}}
    parts: list[str] = []
    tokens = (0, 0)
    stream = None
    try:
        stream = await upstream.stream("/chat/completions", json.dumps(payload).encode(), headers)
        splitter = EventSplitter()
        async for chunk in stream.chunks():
            for event in splitter.feed(chunk):
                data = event_payload(event)
                if data is None:
                    continue
                if carries_usage(event):
                    tokens = usage_tokens(data.get("usage"))
                text = delta_text(data)
                if text:
                    parts.append(text)
                    yield Delta(text)
    except UpstreamRefused as exc:
        await refund()
        if exc.status == 429:  # API Gateway's usage plan said no
            yield Failed(429, _gateway_refusal(exc.body))
            return
        yield Failed(502, messages.MODEL_REFUSED)
        return
    except UpstreamError:
        await refund()
        await _keep_answer(conversation, "".join(parts))
        yield Failed(502, messages.MODEL_FAILED)
        return
    except (asyncio.CancelledError, GeneratorExit):
        # Stopped by the user or the client left: end the upstream request, keep what arrived, charge it.
        if stream is not None:
            stream.close()
        asyncio.get_running_loop().create_task(_keep_answer(conversation, "".join(parts)))
        usage_recorder.record(key_id=info.key_id, day=utc_today(), prompt_tokens=tokens[0], completion_tokens=tokens[1])
        raise
    text = "".join(parts)
    await _keep_answer(conversation, text)
    usage_recorder.record(key_id=info.key_id, day=utc_today(), prompt_tokens=tokens[0], completion_tokens=tokens[1])
    if admission is None:
        yield Done(html=render_markdown(text), remaining=None, limit=None)
    else:
        yield Done(html=render_markdown(text), remaining=admission.remaining, limit=admission.limit)
