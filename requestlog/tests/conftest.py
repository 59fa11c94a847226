"""Rows for the request log tests, noted through the door and written as the writer writes them."""

import itertools
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from requestlog import request_log_note
from requestlog.writer import request_log_flush

_ids = itertools.count(1)


@pytest.fixture
def note() -> Callable:
    def make(*, user_id: int | None, flush: bool = True, **fields) -> str:
        request_id = fields.pop("request_id", f"req-{next(_ids)}-{time.monotonic_ns()}")
        row = {
            "request_id": request_id,
            "user_id": user_id,
            "key_prefix": "tg-abcdefgh",
            "endpoint": "/v1/chat/completions",
            "model": "loopback-model",
            "upstream": "default",
            "status": 200,
            "refusal": "",
            "stream": False,
            "latency_ms": 120,
            "ttfb_ms": 40,
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "cost": Decimal("0"),
            "client_ip": "203.0.113.9",
            **fields,
        }
        request_log_note(**row)
        if flush:
            request_log_flush()
        return request_id

    return make
