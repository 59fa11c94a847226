"""One chat turn: keep the user's message, stream the model's answer through the gateway's door, keep it."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from channels.db import database_sync_to_async

from chat import messages
from chat.markdown import render_markdown
from chat.models import Conversation, Message
from gateway.calls import CHAT_PATH, Call, CallRefused, Refused, UpstreamError, UpstreamRefused, chat_request
from plumbing.tasks import run_in_background

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
class NotAdmitted:
    """The upstream admits by itself (API Gateway) and refused the turn; the caller answers the refusal."""

    refused: Refused


@dataclass(frozen=True)
class Failed:
    """The turn failed. `code` is what callers decide by; `message` is for people."""

    NOT_FOUND, UPSTREAM = "not_found", "upstream_error"

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
def _keep_answer(conversation: Conversation, text: str, stopped: bool = False) -> None:
    if text:
        Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content=text, stopped=stopped)


async def reply_stream(
    *,
    call: Call,
    content: str | None,
    conversation_id: int | None = None,
    conversation_uuid: str | None = None,
) -> AsyncIterator[Started | Delta | Done | Failed | NotAdmitted]:
    """Answer `content` (None: answer the last message again) through an admitted `call`."""
    owner_id, model = call.info.owner_id, call.route.model
    conversation, history = await _prepare(owner_id, conversation_id, conversation_uuid, content, model)
    if conversation is None:
        await call.refund()
        yield Failed(404, Failed.NOT_FOUND, messages.NO_CONVERSATION)
        return
    yield Started(conversation.pk, conversation.title)
    parts: list[str] = []
    try:
        await call.open(CHAT_PATH, chat_request(model=model, messages=history))
        async for text in call.texts():
            parts.append(text)
            yield Delta(text)
    except CallRefused as refusal:
        yield NotAdmitted(refusal.refused)
        return
    except UpstreamRefused:
        yield Failed(502, Failed.UPSTREAM, messages.MODEL_REFUSED)
        return
    except UpstreamError:
        await _keep_answer(conversation, "".join(parts))
        yield Failed(502, Failed.UPSTREAM, messages.MODEL_FAILED)
        return
    except (asyncio.CancelledError, GeneratorExit):
        # Stopped by the user or the client left: end the upstream request, keep what arrived, charge it.
        call.abandon()
        run_in_background(_keep_answer(conversation, "".join(parts), stopped=True))
        raise
    text = "".join(parts)
    await _keep_answer(conversation, text)
    admission = call.admission
    remaining, limit = (admission.remaining, admission.limit) if admission else (None, None)
    yield Done(html=render_markdown(text), remaining=remaining, limit=limit)
