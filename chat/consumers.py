"""The chat page's WebSocket: each message spends one request of the chosen key, answers stream back."""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat import answers
from keys.admission import key_info_load, request_admit
from keys.quota import seconds_until_reset


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Frames in: send, retry, stop. Frames out: started, delta, done, stopped, error."""

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.task: asyncio.Task | None = None
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "task", None) and not self.task.done():
            self.task.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            return await self.error("bad_request", "Frames must be JSON objects.")
        if not isinstance(content, dict):
            return await self.error("bad_request", "Frames must be JSON objects.")
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "stop":
            if self.task and not self.task.done():
                self.task.cancel()
            return
        if kind not in ("send", "retry"):
            return await self.error("bad_request", "Unknown frame type; use 'send', 'retry' or 'stop'.")
        if self.task and not self.task.done():
            return await self.error("busy", "Wait for the answer to finish, or stop it first.")
        text = content.get("content")
        if kind == "send" and (not isinstance(text, str) or not text.strip()):
            return await self.error("bad_request", "Type a message first.")
        if kind == "send" and len(text) > answers.MAX_MESSAGE:
            return await self.error("bad_request", f"Messages are limited to {answers.MAX_MESSAGE} characters.")
        key_id, conversation_id = content.get("key"), content.get("conversation")
        if not isinstance(key_id, int) or (conversation_id is not None and not isinstance(conversation_id, int)):
            return await self.error("bad_request", "'key' must be a key id and 'conversation' an id or null.")
        if kind == "retry" and conversation_id is None:
            return await self.error("bad_request", "Retry needs the conversation.")
        info = await database_sync_to_async(key_info_load)(key_id=key_id)
        if info is None or info.owner_id != self.user.pk or info.revoked:
            return await self.error(
                "invalid_key", "That key is not one of your active keys. Pick another or generate one."
            )
        self.task = asyncio.ensure_future(self.answer(info, text.strip() if kind == "send" else None, conversation_id))

    async def answer(self, info, text: str | None, conversation_id: int | None) -> None:
        verdict = await request_admit(info)
        if verdict.throttled_for:
            return await self.error(
                "too_many_requests", "Too Many Requests: slow down a little.", retry_after=verdict.throttled_for
            )
        if verdict.revoked:
            return await self.error("invalid_key", "That key has been revoked.")
        if not verdict.admitted:
            limit = verdict.admission.limit
            return await self.error(
                "limit_exceeded",
                "Limit Exceeded",
                detail=f"{info.plan_name} allows {limit} requests per day; resets at 00:00 UTC.",
                resets_in=seconds_until_reset(),
                remaining=0,
                limit=limit,
            )
        try:
            async for event in answers.reply_stream(
                info=info, admission=verdict.admission, content=text, conversation_id=conversation_id
            ):
                if isinstance(event, answers.Started):
                    await self.send_json(
                        {"type": "started", "conversation": event.conversation_id, "title": event.title}
                    )
                elif isinstance(event, answers.Delta):
                    await self.send_json({"type": "delta", "text": event.text})
                elif isinstance(event, answers.Done):
                    await self.send_json(
                        {
                            "type": "done",
                            "html": event.html,
                            "remaining": max(event.limit - event.used, 0),
                            "limit": event.limit,
                        }
                    )
                else:
                    await self.error(
                        "upstream_error" if event.status >= 500 else "not_found",
                        event.message,
                        retry=event.status >= 500,
                    )
        except asyncio.CancelledError:
            await self.send_json({"type": "stopped"})
            raise

    async def error(self, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})
