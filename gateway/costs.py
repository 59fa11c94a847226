"""What a call may cost at most (its reservation), and what it cost: from the answer's usage, else estimated.

The prompt bound is the UTF-8 length of every string the body holds (a token is never shorter than a
byte), plus 4 for each object (a message's framing), 1 for each number in a list (token ids), and
IMAGE_TOKENS for each image. The output cap is the body's max_tokens, max_completion_tokens or
max_output_tokens (times `n`), else the model's max_output_tokens, else DEFAULT_MAX_OUTPUT.

When an answer reports no usage (the upstream omits it, or the client left before it came), tokens are
estimated: a quarter of the prompt bound, and for the answer one token per chunk that carried text or
one per 4 bytes of text, whichever is more. A call is never charged more than it reserved.
"""

from gateway import messages
from gateway.bodies import BodyProblem, ModelRequest
from gateway.catalogue import Route
from keys.metering import KeyInfo, Reservation

DEFAULT_MAX_OUTPUT = 4096
MAX_OUTPUT = 10_000_000  # far past any model's; larger would only overflow the counters
IMAGE_TOKENS = 2000
OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_SKIPPED = frozenset({"model", "stream", "stream_options", "user", "metadata", "service_tier", "response_format"})


def output_fields_check(payload: dict) -> None:
    """Refuse an output cap that is not a positive whole number, before anything is charged."""
    for field in OUTPUT_FIELDS:
        value = payload.get(field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OUTPUT
        ):
            raise BodyProblem(messages.output_cap_invalid(field))
    n = payload.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128):
        raise BodyProblem(messages.N_INVALID)


def prompt_bound(payload: dict | None) -> int:
    """At least as many tokens as the body's prompt can take."""
    if payload is None:
        return 0
    total, stack = 0, [(value, False) for key, value in payload.items() if key not in _SKIPPED]
    while stack:
        item, listed = stack.pop()
        if isinstance(item, str):
            total += IMAGE_TOKENS if item.startswith("data:") else len(item.encode())
        elif isinstance(item, dict):
            total += 4
            if item.get("type") in ("image_url", "input_image", "image"):
                total += IMAGE_TOKENS
                continue
            stack.extend((value, False) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, True) for value in item)
        elif listed and isinstance(item, int) and not isinstance(item, bool):
            total += 1  # a token id; a setting such as temperature is not prompt
    return total


def output_cap(payload: dict | None, route: Route, completes: bool) -> int:
    if not completes:
        return 0
    payload = payload or {}
    asked = next((payload[f] for f in OUTPUT_FIELDS if isinstance(payload.get(f), int)), None)
    n = payload.get("n") if isinstance(payload.get("n"), int) else 1
    return (asked or route.max_output or DEFAULT_MAX_OUTPUT) * max(n, 1)


def call_reservation(*, info: KeyInfo, route: Route, request: ModelRequest | None, completes: bool) -> Reservation:
    """The most the call may cost, for plans that limit tokens or money; nothing for other plans."""
    if not info.reserves:
        return Reservation()
    payload = request.payload if request is not None else None
    prompt, output = prompt_bound(payload), output_cap(payload, route, completes)
    nanos = route.price.cost(prompt, output, most=True) if route.price else 0
    return Reservation(prompt + output, nanos)


def estimate_prompt(payload: dict | None) -> int:
    return (prompt_bound(payload) + 3) // 4


def estimate_completion(text_bytes: int, chunks: int) -> int:
    return max(chunks, (text_bytes + 3) // 4)
