"""A body naming 'model' twice is refused: the model checked is the model the upstream is asked for."""

import httpx
import pytest

from gateway.bodies import BodyProblem, model_request_from_json, model_request_from_multipart
from keys.models import QuotaCounter
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
HI = b'"messages": [{"role": "user", "content": "hi"}]'
BOUNDARY = "tollgate-test-boundary"
TRANSCRIBE = "/v1/audio/transcriptions"


def multipart(*parts: tuple[str, str]) -> bytes:
    """A form body whose parts each carry the given Content-Disposition parameters and value."""
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; {head}\r\n\r\n{value}\r\n".encode() for head, value in parts
    )
    file = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n'.encode()
    return body + file + f"--{BOUNDARY}--\r\n".encode()


async def post(key: str, body: bytes, path: str, content_type: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.post(path, headers={"x-api-key": key, "content-type": content_type}, content=body)


@pytest.fixture
def plaintext(user, key_factory):
    return key_factory(user)[1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "first", ' + HI + b', "model": "second"}',
        b'{"model": "second", ' + HI + b', "model": "first"}',
        b'{"model": "first", ' + HI + b', "mod\\u0065l": "second"}',
    ],
    ids=["granted-first", "granted-last", "escaped"],
)
async def test_json_naming_model_twice_is_400_and_not_relayed(plaintext, two_upstream_catalogue, body):
    first, second = two_upstream_catalogue
    response = await post(plaintext, body, "/v1/chat/completions", "application/json")
    assert response.status_code == 400 and "'model' more than once" in response.json()["error"]["message"]
    assert first.requests == [] and second.requests == []
    assert not await QuotaCounter.objects.filter(used__gt=0).aexists()


async def test_one_model_among_nested_models_and_escapes_still_passes(plaintext, two_upstream_catalogue):
    first, _ = two_upstream_catalogue
    body = b'{"model": "first", "metadata": {"model": "x", "note": "caf\\u00e9 \\"model\\""}, ' + HI + b"}"
    response = await post(plaintext, body, "/v1/chat/completions", "application/json")
    assert response.status_code == 200
    assert first.requests[-1]["json"]["model"] == "loopback-first"


@pytest.mark.parametrize(
    "parts",
    [
        (('name="model"', "first"), ('name="model"', "second")),
        (('name="model"', "first"), ("name=model", "second")),
    ],
    ids=["quoted", "unquoted-second"],
)
async def test_multipart_with_two_model_parts_is_400(plaintext, two_upstream_catalogue, parts):
    first, second = two_upstream_catalogue
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    response = await post(plaintext, multipart(*parts), TRANSCRIBE, content_type)
    assert response.status_code == 400 and "'model' more than once" in response.json()["error"]["message"]
    assert first.requests == [] and second.requests == []


async def test_an_unquoted_model_part_is_the_model_checked(plaintext, two_upstream_catalogue):
    """A part a lenient upstream reads as the model is the one the grant check reads, and is rewritten."""
    from gateway.models import CatalogModel

    first, _ = two_upstream_catalogue
    await CatalogModel.objects.filter(name="first").aupdate(kind="audio")  # transcriptions take audio models
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    response = await post(
        plaintext, multipart(("name=second", "x"), ("name=model", "second")), TRANSCRIBE, content_type
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    response = await post(plaintext, multipart(("name=model", "first")), TRANSCRIBE, content_type)
    assert response.status_code == 200 and first.requests[-1]["json"]["model"] == "loopback-first"


def test_the_parsers_refuse_a_second_model():
    with pytest.raises(BodyProblem):
        model_request_from_json(b'{"model": "a", "model": "b"}')
    form = multipart(('name="model"', "a"), ('name="model"', "b"))
    with pytest.raises(BodyProblem):
        model_request_from_multipart(form, f"multipart/form-data; boundary={BOUNDARY}")
    assert model_request_from_json(b'{"model": "a", "x": {"model": "b"}}').model == "a"
