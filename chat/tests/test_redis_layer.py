"""Chat sockets on the Redis channel layer outlive its blocking read (a Redis server of the test's own)."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer

from conftest import chat_socket_headers
from portal.settings import redis_channel_layer

pytestmark = pytest.mark.services
# channels_redis blocks 5 s in BZPOPMIN; redis-py's default read timeout was 5 s too.
IDLE = 8  # past both 5-second waits, with room to spare


@pytest.fixture
def redis_url(fresh_redis_url) -> str:
    """The run's own redis-server (conftest), emptied for this test."""
    return fresh_redis_url


async def test_a_receive_waits_past_the_blocking_pop(redis_url):
    layer = RedisChannelLayer(**redis_channel_layer(redis_url)["CONFIG"])
    channel = await layer.new_channel()

    async def send_late() -> None:
        await asyncio.sleep(IDLE - 1)
        await layer.send(channel, {"type": "late.hello"})

    sender = asyncio.create_task(send_late())
    started = time.monotonic()
    message = await asyncio.wait_for(layer.receive(channel), IDLE + 5)
    assert message == {"type": "late.hello"}
    assert time.monotonic() - started >= IDLE - 1.5
    await sender
    await layer.close_pools()


@pytest.mark.django_db(transaction=True)
async def test_an_idle_chat_socket_still_answers(redis_url, settings, user, key_factory, upstream):
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url)}
    from portal.asgi import application

    key, _ = await database_sync_to_async(key_factory)(user)
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=await chat_socket_headers(user))
    connected, _ = await communicator.connect()
    assert connected
    await asyncio.sleep(IDLE)
    # A consumer whose layer read had timed out would have crashed: nothing more would come back.
    await communicator.send_json_to({"type": "send", "key": key.pk, "conversation": None, "content": "Still there?"})
    frames = []
    while not frames or frames[-1]["type"] not in ("done", "error", "stopped"):
        frames.append(await communicator.receive_json_from(timeout=10))
    assert frames[-1]["type"] == "done"
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == upstream.reply
    await communicator.disconnect()
