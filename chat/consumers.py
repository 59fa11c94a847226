"""The chat page's WebSocket: each message spends one request of the chosen key, answers stream back."""

import asyncio
import json
import logging
from contextlib import aclosing

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.functional import Promise

from chat import answers, messages
from chat.language import language_from_scope
from gateway import metrics
from gateway.catalogue import Route, catalogue
from gateway.upstream import default_model
from keys import metering
from keys.backends import get_backend
from keys.metering import KeyInfo, seconds_until_reset

logger = logging.getLogger(__name__)


def _external_gateway_url() -> str:
    return get_backend().external_gateway_url()


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Frames in: send, retry, stop. Frames out: started, delta, done, stopped, error."""

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.task: asyncio.Task | None = None
        self.language = language_from_scope(self.scope)
        # With KEYS_BACKEND=aws, API Gateway admits each message at this URL, against the user's own key.
        self.gateway_url: str = await database_sync_to_async(_external_gateway_url)()
        await self.accept()
        metrics.socket_opened()
        self.counted = True

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            self.counted = False
            metrics.socket_closed()
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
        await self.receive_json(content)

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
        gateway_key = None
        if self.gateway_url:
            # Only the browser holds the user's key: API Gateway checks quotas against it.
            gateway_key = content.get("api_key") if isinstance(content.get("api_key"), str) else ""
            info = await metering.authenticate(gateway_key) if gateway_key else None
        else:
            info = await metering.key_load(content["key"])
        if info is None or info.owner_id != self.user.pk or info.revoked:
            return await self.error("invalid_key", messages.NOT_YOUR_KEY)
        if info.expired:
            return await self.error("invalid_key", messages.KEY_EXPIRED)
        route = None
        if gateway_key is None:
            route = await self.route_for(info, content.get("model"))
            if route is None:
                return
        text = content["content"].strip() if kind == "send" else None
        conversation = content.get("conversation")
        self.task = asyncio.ensure_future(self.answer(info, text, conversation, gateway_key, route))

    async def route_for(self, info: KeyInfo, model: str | None) -> Route | None:
        """Where the chosen model is served for this key's plan; says so and returns None if nowhere."""
        snapshot = await catalogue()
        model = model or default_model()
        route = snapshot.route(model, info.plan_id)
        if route is None:
            await self.error("model_not_found", messages.model_not_found(model, snapshot.granted(info.plan_id)))
        return route

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

    async def answer(
        self, info: KeyInfo, text: str | None, conversation_id: int | None, gateway_key: str | None, route: Route | None
    ) -> None:
        admission = None
        if gateway_key is None:
            verdict = await metering.admit(info)
            if not verdict.admitted and not verdict.revoked:
                reason = "throttle" if verdict.throttled_for else "tokens" if verdict.tokens_exceeded else "requests"
                metrics.count_refusal(info.plan_name, reason)
            if verdict.throttled_for:
                return await self.error("too_many_requests", messages.TOO_MANY_REQUESTS, detail=messages.SLOW_DOWN)
            if verdict.revoked:
                return await self.error("invalid_key", messages.KEY_REVOKED)
            if verdict.tokens_exceeded:
                detail = messages.token_limit_detail(info.plan_name, info.token_limit)
                return await self.error(
                    "limit_exceeded", messages.LIMIT_EXCEEDED, detail=detail, resets_in=seconds_until_reset()
                )
            if not verdict.admitted:
                return await self.limit_exceeded(info, verdict.admission.limit)
            admission = verdict.admission
        try:
            reply = answers.reply_stream(
                info=info,
                admission=admission,
                content=text,
                conversation_id=conversation_id,
                route=route,
                gateway_url=self.gateway_url,
                gateway_key=gateway_key,
            )
            # aclosing: a Stop that lands while we send a frame must still end the upstream request.
            async with aclosing(reply):
                async for event in reply:
                    await self.relay(info, event)
        except asyncio.CancelledError:
            await self.send_json({"type": "stopped"})
            raise
        except Exception:
            # Whatever broke, the user gets an answer frame and their request back.
            logger.exception("chat turn failed")
            if admission is not None:
                await metering.refund(info)
            await self.error("upstream_error", messages.OUR_FAILURE, retry=True)

    async def relay(self, info: KeyInfo, event) -> None:
        if isinstance(event, answers.Started):
            await self.send_json({"type": "started", "conversation": event.conversation_id, "title": event.title})
        elif isinstance(event, answers.Delta):
            await self.send_json({"type": "delta", "text": event.text})
        elif isinstance(event, answers.Done):
            await self.send_json(
                {"type": "done", "html": event.html, "remaining": event.remaining, "limit": event.limit}
            )
        elif event.code == answers.Failed.LIMIT_EXCEEDED:
            await self.limit_exceeded(info, info.limit)
        elif event.code == answers.Failed.THROTTLED:
            await self.error("too_many_requests", messages.TOO_MANY_REQUESTS, detail=messages.SLOW_DOWN)
        elif event.code == answers.Failed.NOT_FOUND:
            await self.error("not_found", event.message)
        else:
            await self.error("upstream_error", event.message, retry=True)

    async def limit_exceeded(self, info: KeyInfo, limit: int) -> None:
        await self.error(
            "limit_exceeded",
            messages.LIMIT_EXCEEDED,
            detail=messages.limit_detail(info.plan_name, limit),
            resets_in=seconds_until_reset(),
            remaining=0,
            limit=limit,
        )

    async def error(self, code: str, message: str, **extra) -> None:
        extra = {name: str(value) if isinstance(value, Promise) else value for name, value in extra.items()}
        await self.send_json({"type": "error", "code": code, "message": str(message), **extra})
