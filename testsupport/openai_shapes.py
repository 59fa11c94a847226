"""Answers in the shapes of OpenAI's other endpoints, for the loopback upstream: completions,
embeddings, responses, moderations, images and audio, whole and (where OpenAI streams) as SSE events."""

import json
import time


def _words(payload: dict, field: str) -> int:
    value = payload.get(field, "")
    text = value if isinstance(value, str) else " ".join(str(v) for v in value) if isinstance(value, list) else ""
    return len(text.split())


def whole(path: str, payload: dict, model: str, reply: str) -> tuple[bytes, bytes] | None:
    """(content type, body) for a non-streamed answer, or None for a path this server does not know."""
    now = int(time.time())
    out = len(reply.split())
    if path.endswith("/completions"):
        prompt = _words(payload, "prompt")
        body = {
            "id": f"cmpl-loop{time.monotonic_ns()}",
            "object": "text_completion",
            "created": now,
            "model": model,
            "choices": [{"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out},
        }
    elif path.endswith("/embeddings"):
        prompt = _words(payload, "input")
        body = {
            "object": "list",
            "model": model,
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.75]}],
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }
    elif path.endswith("/responses"):
        body = response_object(payload, model, reply, now)
    elif path.endswith("/moderations"):
        body = {"id": "modr-loop", "model": model, "results": [{"flagged": False, "categories": {}}]}
    elif path.endswith("/images/generations"):
        body = {"created": now, "data": [{"url": "http://loopback.invalid/image.png"}]}
    elif path.endswith("/audio/speech"):
        return b"audio/mpeg", b"ID3-loopback-audio"
    elif path.endswith(("/audio/transcriptions", "/audio/translations")):
        body = {"text": reply, "usage": {"type": "tokens", "input_tokens": 5, "output_tokens": out}}
    else:
        return None
    return b"application/json", json.dumps(body).encode()


def response_object(payload: dict, model: str, reply: str, now: int) -> dict:
    prompt, out = _words(payload, "input"), len(reply.split())
    return {
        "id": "resp_loop",
        "object": "response",
        "created_at": now,
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_loop",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": prompt, "output_tokens": out, "total_tokens": prompt + out},
    }


def stream_events(path: str, payload: dict, model: str, reply: str) -> list[bytes] | None:
    """SSE events for a streamed completions or responses answer; None for other paths."""
    words = reply.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if path.endswith("/responses"):
        final = response_object(payload, model, reply, int(time.time()))
        events = [("response.created", {"type": "response.created", "response": {**final, "usage": None}})]
        events += [("response.output_text.delta", {"type": "response.output_text.delta", "delta": p}) for p in pieces]
        events.append(("response.completed", {"type": "response.completed", "response": final}))
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
    if path.endswith("/completions"):
        chunks = [{"choices": [{"index": 0, "text": p, "finish_reason": None}]} for p in pieces]
        if (payload.get("stream_options") or {}).get("include_usage"):
            prompt, out = _words(payload, "prompt"), len(words)
            usage = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
            chunks.append({"choices": [], "usage": usage})
        base = {"id": "cmpl-loop", "object": "text_completion", "created": int(time.time()), "model": model}
        return [b"data: " + json.dumps({**base, **c}).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return None
