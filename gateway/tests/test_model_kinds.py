"""The catalogue knows what a model does: endpoints and the chat page take only models of their kind."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command

from gateway.models import CatalogModel, Upstream, kind_guess
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def catalogue(base_url: str) -> None:
    upstream = Upstream.objects.create(name="loop", base_url=base_url)
    for name, kind in (("chatty", ""), ("text-embedding-small", ""), ("painter", "image")):
        CatalogModel.objects.create(name=name, kind=kind).upstreams.set([upstream])


@pytest.mark.parametrize(
    ("name", "kind"),
    [("gpt-4o", "chat"), ("text-embedding-3-small", "embedding"), ("dall-e-3", "image"), ("whisper-1", "audio"),
     ("tts-1", "audio"), ("omni-moderation-latest", "moderation"), ("gpt-3.5-turbo-instruct", "completion")],
)  # fmt: skip
def test_a_blank_kind_is_guessed_from_the_name(name, kind):
    assert kind_guess(name) == kind


async def test_an_endpoint_refuses_a_model_of_another_kind_uncharged(user, key_factory, upstream_server):
    upstream_server.reset()
    await sync_to_async(catalogue)(upstream_server.base_url)
    _, plaintext = await sync_to_async(key_factory)(user)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        headers = {"x-api-key": plaintext}
        chat = {"model": "text-embedding-small", "messages": [{"role": "user", "content": "hi"}]}
        refused = await client.post("/v1/chat/completions", headers=headers, json=chat)
        embedded = await client.post(
            "/v1/embeddings", headers=headers, json={"model": "text-embedding-small", "input": "hi"}
        )
        chatted = await client.post("/v1/chat/completions", headers=headers, json={**chat, "model": "chatty"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "model_wrong_kind"
    assert "embedding model" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-remaining-requests"] == "10", "not charged"
    assert (embedded.status_code, chatted.status_code) == (200, 200)
    assert len(upstream_server.requests) == 2


def test_load_models_takes_a_kind_and_refuses_an_unknown_one(tmp_path, upstream_server):
    path = tmp_path / "catalogue.json"
    entry = {"name": "painter", "upstreams": ["loop"], "kind": "image"}
    path.write_text(
        json.dumps({"upstreams": [{"name": "loop", "base_url": upstream_server.base_url}], "models": [entry]})
    )
    call_command("load_models", str(path))
    assert CatalogModel.objects.get(name="painter").kind == "image"
    path.write_text(json.dumps({"upstreams": [], "models": [{**entry, "kind": "painting"}]}))
    with pytest.raises(CommandError, match="kind"):
        call_command("load_models", str(path))


def test_the_chat_picker_offers_chat_models_only(alice_client, user, key_factory, upstream_server):
    catalogue(upstream_server.base_url)
    key_factory(user)
    page = alice_client.get("/chat/").content.decode()
    assert "chatty" in page and "text-embedding-small" not in page and "painter" not in page
