"""Request bodies of the model endpoints, JSON or multipart: checked before anything is charged,
and rewritten to carry the upstream's own model name."""

import json
import re
from dataclasses import dataclass

from gateway import messages

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
# Any spelling a server might read as the model field: quoted or not, name first or after other parameters.
_MODEL_PART = re.compile(
    rb"""^content-disposition:\s*form-data\s*;(?:[^\r\n]*;)?\s*name\s*=\s*(?:"model"|'model'|model)\s*(?:;|\r?$)""",
    re.IGNORECASE | re.MULTILINE,
)
MAX_DEPTH = 64


class BodyProblem(ValueError):
    """The body cannot be relayed; the message says why, for the client."""


@dataclass(slots=True)
class ModelRequest:
    """A request naming a model: `payload` for JSON bodies, `parts` for multipart ones."""

    model: str
    stream: bool
    raw: bytes = b""
    payload: dict | None = None
    parts: list[bytes] | None = None
    boundary: bytes = b""

    def body_for(self, upstream_model: str, *, include_usage: bool = False) -> bytes:
        if upstream_model == self.model and not (include_usage and self.stream):
            return self.raw  # already right: spare the hot path a second encoding
        if self.payload is not None:
            payload = {**self.payload, "model": upstream_model}
            if include_usage and self.stream:
                payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}
            return json.dumps(payload).encode()
        parts = [_model_part(upstream_model) if _is_model_part(p) else p for p in self.parts or []]
        if not any(_is_model_part(p) for p in self.parts or []):
            parts.insert(1, _model_part(upstream_model))
        return (b"--" + self.boundary).join(parts)

    @property
    def content_type(self) -> str:
        if self.payload is not None:
            return "application/json"
        return f"multipart/form-data; boundary={self.boundary.decode('latin-1')}"


def _depth(value: object, limit: int) -> int:
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


class _KeyCounter:
    """An object_pairs_hook that notes how often the last object parsed (the top level) named "model"."""

    __slots__ = ("models",)

    def __init__(self) -> None:
        self.models = 0

    def __call__(self, pairs: list[tuple[str, object]]) -> dict:
        self.models = sum(key == "model" for key, _ in pairs)
        return dict(pairs)


def _loads(body: bytes) -> object:
    # A second "model" would pass the grant check as one model and reach a first-wins upstream as
    # the other. Only a body that could hold two (written plainly, or spelt with \u escapes) pays
    # for the slower parse that sees every key.
    if body.count(b'"model"') < 2 and b"\\u" not in body:
        return json.loads(body)
    counter = _KeyCounter()
    payload = json.loads(body, object_pairs_hook=counter)
    if counter.models > 1:
        raise BodyProblem(messages.MODEL_TWICE)
    return payload


def parse_json(body: bytes | None) -> dict:
    if body is None:
        raise BodyProblem(messages.BODY_MISSING)
    try:
        payload = _loads(body)
    except BodyProblem:
        raise
    except RecursionError as exc:
        raise BodyProblem(messages.BODY_TOO_DEEP) from exc
    except ValueError as exc:
        raise BodyProblem(messages.BODY_NOT_JSON) from exc
    if not isinstance(payload, dict):
        raise BodyProblem(messages.BODY_NOT_OBJECT)
    # Counting brackets is far cheaper than walking the value, and settles almost every body.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(payload, MAX_DEPTH) > MAX_DEPTH:
        raise BodyProblem(messages.BODY_TOO_DEEP)
    return payload


def model_request_from_json(body: bytes | None) -> ModelRequest:
    payload = parse_json(body)
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise BodyProblem(messages.MODEL_NOT_STRING)
    stream = payload.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise BodyProblem(messages.STREAM_NOT_BOOLEAN)
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BodyProblem(messages.STREAM_OPTIONS_NOT_OBJECT)
    return ModelRequest(model=model or "", stream=bool(stream), raw=body, payload=payload)


def model_request_from_multipart(body: bytes | None, content_type: str) -> ModelRequest:
    if body is None:
        raise BodyProblem(messages.BODY_MISSING)
    found = _BOUNDARY.search(content_type)
    if not found:
        raise BodyProblem(messages.MULTIPART_BOUNDARY)
    boundary = found.group(1).encode("latin-1")
    parts = body.split(b"--" + boundary)
    model_parts = [part for part in parts if _is_model_part(part)]
    if len(model_parts) > 1:
        raise BodyProblem(messages.MODEL_TWICE)
    model = ""
    if model_parts:
        value = model_parts[0].split(b"\r\n\r\n", 1)[-1]
        model = value.removesuffix(b"\r\n").decode("utf-8", "replace").strip()
    return ModelRequest(model=model, stream=False, raw=body, parts=parts, boundary=boundary)


def _is_model_part(part: bytes) -> bool:
    head = part.split(b"\r\n\r\n", 1)[0]
    return bool(_MODEL_PART.search(head))


def _model_part(name: str) -> bytes:
    return b'\r\nContent-Disposition: form-data; name="model"\r\n\r\n' + name.encode() + b"\r\n"
