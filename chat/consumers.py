"""The chat page's WebSocket: each message spends one request of the chosen key, answers stream back."""

import asyncio
import json
import logging
import uuid
from contextlib import aclosing

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.functional import Promise

from chat import answers, messages
from chat.language import language_from_scope
from gateway import calls
from gateway.calls import Call, NoRoute, Refused
from keys.backends import get_backend
from keys.metering import RefusalCode
from keys.money import money_text
from keys.periods import seconds_until
from keys.scopes import address_allowed
from plumbing.addresses import scope_client_address
from plumbing.outages import OUTAGES

logger = logging.getLogger(__name__)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Frames in: send, retry, stop. Frames out: started, delta, done, stopped, error."""

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.task: asyncio.Task | None = None
        self.language = language_from_scope(self.scope)
        # With KEYS_BACKEND=aws, API Gateway admits each message against the user's own key, which only
        # the browser holds: the frame carries it.
        self.key_in_frame = bool(get_backend().external_gateway_url())
        await self.accept()
        calls.socket_opened()
        self.counted = True

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            self.counted = False
            calls.socket_closed()
        if getattr(self, "task", None) and not self.task.done():
            self.task.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The answer's task starts inside this block, so it inherits the page's language too.
        with translation.override(self.language):
            await self.receive_frame(text_data)

    async def receive_frame(self, text_data: str | None) -> None:
        try:
            content = json.loads(text_data or "")
        except (ValueError, RecursionError):
            return await self.error("bad_request", messages.FRAME_NOT_JSON)
        if not isinstance(content, dict):
            return await self.error("bad_request", messages.FRAME_NOT_JSON)
        try:
            await self.receive_json(content)
        except OUTAGES:
            logger.exception("a store was unreachable while answering a chat frame")
            await self.error("unavailable", messages.UNAVAILABLE, retry=True)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "stop":
            if self.task and not self.task.done():
                self.task.cancel()
            return
        if kind not in ("send", "retry"):
            return await self.error("bad_request", messages.FRAME_UNKNOWN)
        if self.task and not self.task.done():
            return await self.error("busy", messages.BUSY)
        problem = self.frame_problem(kind, content)
        if problem:
            return await self.error("bad_request", problem)
        self.note = calls.note_begin(
            endpoint=CHAT_ENDPOINT, request_id=uuid.uuid4().hex, client_ip=scope_client_address(self.scope)
        )
        self.traced = traced = calls.trace_begin(route=CHAT_ENDPOINT, request_id=self.note.request_id, name="chat.turn")
        try:
            await self.turn_start(kind, content)
        finally:
            if traced is not None:
                calls.trace_detach(traced)  # the answer's task keeps its copy of the context

    async def turn_start(self, kind: str, content: dict) -> None:
        """Check the frame's key and model, spend one request, and start answering."""
        user_key = None
        if self.key_in_frame:
            user_key = content.get("api_key") if isinstance(content.get("api_key"), str) else ""
            info = await calls.authenticate(user_key) if user_key else None
        else:
            info = await calls.key_load(content["key"])
        if info is None or info.owner_id != self.user.pk or info.revoked:
            return await self.error("invalid_key", messages.NOT_YOUR_KEY)
        if info.allowed_ips and not address_allowed(info.allowed_ips, scope_client_address(self.scope)):
            return await self.error("ip_not_allowed", messages.IP_NOT_ALLOWED)
        route = await calls.route_find(info=info, model=content.get("model"), user_key=user_key)
        if isinstance(route, NoRoute):
            return await self.error("model_not_found", messages.model_not_found(route.model, route.granted))
        if route.kind not in ("", "chat"):
            return await self.error("model_not_found", messages.not_a_chat_model(route.model))
        call = await calls.call_admit(info=info, route=route)
        if isinstance(call, Refused):
            return await self.refused(call)
        text = content["content"].strip() if kind == "send" else None
        self.task = asyncio.ensure_future(self.answer(call, text, content.get("conversation")))

    @staticmethod
    def frame_problem(kind: str, content: dict) -> str:
        text, key_id, conversation_id = content.get("content"), content.get("key"), content.get("conversation")
        if kind == "send" and (not isinstance(text, str) or not text.strip()):
            return messages.EMPTY_MESSAGE
        if kind == "send" and len(text) > answers.MAX_MESSAGE:
            return messages.too_long(answers.MAX_MESSAGE)
        if not isinstance(key_id, int) or (conversation_id is not None and not isinstance(conversation_id, int)):
            return messages.FRAME_BAD_IDS
        if kind == "retry" and conversation_id is None:
            return messages.RETRY_NEEDS_CONVERSATION
        if content.get("model") is not None and not isinstance(content.get("model"), str):
            return messages.FRAME_BAD_MODEL
        return ""

    async def answer(self, call: Call, text: str | None, conversation_id: int | None) -> None:
        span = calls.trace_child_begin("relay")
        try:
            reply = answers.reply_stream(call=call, content=text, conversation_id=conversation_id)
            # aclosing: a Stop that lands while we send a frame must still end the upstream request.
            async with aclosing(reply):
                async for event in reply:
                    await self.relay(event)
        except asyncio.CancelledError:
            self.turn_ended(499)  # stopped, or the socket closed: charged for what arrived
            await self.send_json({"type": "stopped"})
            raise
        except Exception:
            # Whatever broke, the user gets an answer frame and their request back.
            logger.exception("chat turn failed")
            await call.refund()
            await self.error("upstream_error", messages.OUR_FAILURE, retry=True)
        finally:
            if span is not None:
                calls.trace_child_end(span, attributes={"tollgate.stream": True})

    async def relay(self, event) -> None:
        if isinstance(event, answers.Started):
            await self.send_json({"type": "started", "conversation": event.conversation_id, "title": event.title})
        elif isinstance(event, answers.Delta):
            await self.send_json({"type": "delta", "text": event.text})
        elif isinstance(event, answers.Done):
            await self.send_json(
                {"type": "done", "html": event.html, "remaining": event.remaining, "limit": event.limit}
            )
            self.turn_ended(200)
        elif isinstance(event, answers.NotAdmitted):
            await self.refused(event.refused)
        elif event.code == answers.Failed.NOT_FOUND:
            await self.error("not_found", event.message)
        else:
            await self.error("upstream_error", event.message, retry=True)

    async def refused(self, refused: Refused) -> None:
        """Answer a refusal by its code: the one table from code to frame."""
        code, message, extra = _REFUSAL_FRAMES[refused.code](refused)
        await self.error(code, message, **extra)

    async def error(self, code: str, message: str, **extra) -> None:
        extra = {name: str(value) if isinstance(value, Promise) else value for name, value in extra.items()}
        await self.send_json({"type": "error", "code": code, "message": str(message), **extra})
        if code in _TURN_STATUS:
            self.turn_ended(_TURN_STATUS[code])

    def turn_ended(self, status: int) -> None:
        """The turn's row in the request log, with the status an HTTP client would have got."""
        note, self.note = getattr(self, "note", None), None
        if note is not None:
            note.end(status)
        traced, self.traced = getattr(self, "traced", None), None
        if traced is not None:
            calls.trace_end(traced, status, note, detach=False)


def _requests_spent(refused: Refused) -> tuple[str, str, dict]:
    info = refused.info
    limit = refused.admission.limit if refused.admission else info.limit
    _, reset_at = info.period_now()
    detail = messages.limit_detail(info.plan_name, limit, info.period, reset_at)
    return "limit_exceeded", messages.LIMIT_EXCEEDED, _limit_extra(detail, reset_at, remaining=0, limit=limit)


def _key_cap_spent(refused: Refused) -> tuple[str, str, dict]:
    info = refused.info
    _, reset_at = info.period_now()
    detail = messages.key_cap_detail(info.public_prefix, info.max_requests or 0, info.period, reset_at)
    return (
        "limit_exceeded",
        messages.LIMIT_EXCEEDED,
        _limit_extra(detail, reset_at, remaining=0, limit=info.max_requests),
    )


def _tokens_spent(refused: Refused) -> tuple[str, str, dict]:
    info = refused.info
    _, reset_at = info.period_now()
    detail = messages.token_limit_detail(info.plan_name, info.token_limit, info.period, reset_at)
    return "limit_exceeded", messages.LIMIT_EXCEEDED, _limit_extra(detail, reset_at)


def _budget_spent(refused: Refused) -> tuple[str, str, dict]:
    info, admission = refused.info, refused.admission
    _, reset_at = info.period_now()
    budget = info.budget_nanos or 0
    spent = admission.spent_nanos if admission and admission.spent_nanos is not None else budget
    left = money_text(max(budget - spent, 0))
    detail = messages.budget_detail(info.plan_name, money_text(budget), left, calls.currency(), info.period, reset_at)
    return "limit_exceeded", messages.LIMIT_EXCEEDED, _limit_extra(detail, reset_at, kind="budget")


def _limit_extra(detail: str, reset_at, **counts) -> dict:
    return {"detail": detail, "resets_in": seconds_until(reset_at), **counts}


CHAT_ENDPOINT = "/ws/chat/"
# The status an HTTP client would have got for each error frame that ends a turn.
_TURN_STATUS = {
    "limit_exceeded": 429,
    "too_many_requests": 429,
    "invalid_key": 401,
    "ip_not_allowed": 403,
    "model_not_found": 404,
    "not_found": 404,
    "unavailable": 503,
    "upstream_error": 502,
}

_REFUSAL_FRAMES = {
    RefusalCode.REQUESTS: _requests_spent,
    RefusalCode.TOKENS: _tokens_spent,
    RefusalCode.BUDGET: _budget_spent,
    RefusalCode.KEY_REQUESTS: _key_cap_spent,
    RefusalCode.THROTTLE: lambda _: ("too_many_requests", messages.TOO_MANY_REQUESTS, {"detail": messages.SLOW_DOWN}),
    RefusalCode.REVOKED: lambda _: ("invalid_key", messages.KEY_REVOKED, {}),
    RefusalCode.EXPIRED: lambda _: ("invalid_key", messages.KEY_EXPIRED, {}),
    RefusalCode.UNAVAILABLE: lambda _: ("unavailable", messages.UNAVAILABLE, {"retry": True}),
}
