"""One contract, every upstream: what each kind answers, and how each says it could not."""

import asyncio
import json

import pytest

from conftest import free_port
from gateway.errors import AdmissionRefused, UpstreamError, UpstreamRefused
from gateway.upstreams import BaseUpstream, aws_gateway_upstream, client_for
from gateway.upstreams.demo import DemoUpstream
from keys.metering import RefusalCode

CHAT = {"messages": [{"role": "user", "content": "one two three"}]}


def body(model: str, **extra) -> bytes:
    return json.dumps({"model": model, **CHAT, **extra}).encode()


async def streamed(upstream: BaseUpstream, model: str) -> bytes:
    stream = await upstream.stream("/chat/completions", body(model, stream=True))
    return b"".join([chunk async for chunk in stream.chunks()])


class UpstreamContract:
    """What every upstream must do. Subclasses give `upstream()` and a model it answers."""

    model = "loopback-model"

    def upstream(self) -> BaseUpstream:
        raise NotImplementedError

    def test_a_whole_answer_is_json_with_its_content_type(self):
        answer, content_type = asyncio.run(self.upstream().request("POST", "/chat/completions", body(self.model)))
        completion = json.loads(answer)
        assert content_type.startswith("application/json")
        assert completion["choices"][0]["message"]["content"]
        assert completion["usage"]["prompt_tokens"] > 0

    def test_a_stream_is_server_sent_events_ending_in_done(self):
        events = asyncio.run(streamed(self.upstream(), self.model))
        assert events.startswith(b"data: ") and events.rstrip().endswith(b"data: [DONE]")
        assert b'"delta"' in events

    def test_the_base_class_states_every_method(self):
        assert isinstance(self.upstream(), BaseUpstream)
        for name in ("request", "stream"):
            assert getattr(type(self.upstream()), name) is not getattr(BaseUpstream, name)


class RemoteContract(UpstreamContract):
    """Upstreams reached over HTTP: unreachable, failing and refusing servers each have their exception."""

    def unreachable(self) -> BaseUpstream:
        raise NotImplementedError

    def test_an_unreachable_server_is_an_upstream_error(self):
        with pytest.raises(UpstreamError) as caught:
            asyncio.run(self.unreachable().request("POST", "/chat/completions", body(self.model)))
        assert caught.value.code == UpstreamError.UNREACHABLE and caught.value.status == 502

    def test_a_5xx_is_an_upstream_error_never_relayed(self):
        with pytest.raises(UpstreamError) as caught:
            asyncio.run(self.upstream().request("POST", "/chat/completions", body("fail-500")))
        assert caught.value.code == UpstreamError.FAILED

    def test_a_4xx_about_the_request_is_refused_with_its_body(self):
        with pytest.raises(UpstreamRefused) as caught:
            asyncio.run(self.upstream().stream("/chat/completions", body("fail-400", stream=True)))
        assert caught.value.status == 400 and b"loopback failure 400" in caught.value.body


class TestOpenAIUpstream(RemoteContract):
    @pytest.fixture(autouse=True)
    def _server(self, upstream_server):
        upstream_server.reset()
        self.server = upstream_server

    def upstream(self) -> BaseUpstream:
        return client_for(self.server.base_url, "provider-secret-never-shown", 5.0)

    def unreachable(self) -> BaseUpstream:
        return client_for(f"http://127.0.0.1:{free_port()}/v1", "provider-secret-never-shown", 5.0)

    def test_the_provider_key_is_sent_and_a_4xx_that_echoes_it_never_reaches_the_client(self):
        with pytest.raises(UpstreamError) as caught:
            asyncio.run(self.upstream().request("POST", "/chat/completions", body("echo-400")))
        assert caught.value.code == UpstreamError.CREDENTIALS and caught.value.status == 502
        assert "provider-secret" not in caught.value.message
        assert self.server.requests[-1]["headers"]["authorization"] == "Bearer provider-secret-never-shown"

    def test_without_a_provider_key_a_4xx_is_the_clients_to_read(self):
        keyless = client_for(self.server.base_url, "", 5.0)
        with pytest.raises(UpstreamRefused):
            asyncio.run(keyless.request("POST", "/chat/completions", body("echo-400")))


class TestDemoUpstream(UpstreamContract):
    model = "tollgate-demo"

    @pytest.fixture(autouse=True)
    def _fast(self, monkeypatch):
        monkeypatch.setattr(DemoUpstream, "word_delay", 0)

    def upstream(self) -> BaseUpstream:
        return client_for("", "", 5.0)

    def test_it_answers_chats_only_and_says_so(self):
        with pytest.raises(UpstreamRefused) as caught:
            asyncio.run(self.upstream().request("POST", "/embeddings", b'{"input": "x"}'))
        assert caught.value.status == 400 and b"demo" in caught.value.body


class TestAwsGatewayUpstream(RemoteContract):
    @pytest.fixture(autouse=True)
    def _server(self, upstream_server):
        upstream_server.reset()
        self.server = upstream_server

    def upstream(self) -> BaseUpstream:
        return aws_gateway_upstream(self.server.base_url, "the-users-own-key-1234567890")

    def unreachable(self) -> BaseUpstream:
        return aws_gateway_upstream(f"http://127.0.0.1:{free_port()}/v1", "the-users-own-key-1234567890")

    def test_the_users_key_goes_as_x_api_key_and_no_provider_key_at_all(self):
        asyncio.run(self.upstream().request("POST", "/chat/completions", body(self.model)))
        headers = self.server.requests[-1]["headers"]
        assert headers["x-api-key"] == "the-users-own-key-1234567890"
        assert "authorization" not in headers

    @pytest.mark.parametrize(
        ("model", "code"), [("quota-429", RefusalCode.REQUESTS), ("throttle-429", RefusalCode.THROTTLE)]
    )
    def test_its_429s_become_refusal_codes(self, model, code):
        with pytest.raises(AdmissionRefused) as caught:
            asyncio.run(streamed(self.upstream(), model))
        assert caught.value.code == code
