"""AWS API Gateway in front of the LLM: it checks the user's own key and admits by its usage plan."""

import json

from gateway.errors import AdmissionRefused, UpstreamRefused
from gateway.streams import Stream
from gateway.upstreams.base import BaseUpstream
from gateway.upstreams.openai import OpenAIUpstream
from keys.metering import RefusalCode

# API Gateway's 429 says which limit only in its body, always in English.
_QUOTA_WORDS = "Limit Exceeded"


class AwsGatewayUpstream(BaseUpstream):
    """Sends the user's key as x-api-key to API Gateway; its 429s become refusal codes."""

    def __init__(self, connection: OpenAIUpstream, user_key: str) -> None:
        self._connection = connection  # shared by every user: one pool per gateway URL
        self._key = user_key

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[bytes, str]:
        try:
            return await self._connection.request(method, path, body, self._with_key(headers))
        except UpstreamRefused as refused:
            raise _admission_refused(refused) from None

    async def stream(self, path: str, body: bytes, headers: dict | None = None) -> Stream:
        try:
            return await self._connection.stream(path, body, self._with_key(headers))
        except UpstreamRefused as refused:
            raise _admission_refused(refused) from None

    def _with_key(self, headers: dict | None) -> dict:
        return {**(headers or {}), "x-api-key": self._key}


def _admission_refused(refused: UpstreamRefused) -> Exception:
    """API Gateway's 429 is its usage plan's quota ("Limit Exceeded") or its throttle ("Too Many Requests")."""
    if refused.status != 429:
        return refused
    try:
        said = json.loads(refused.body).get("message", "")
    except (ValueError, AttributeError):
        said = ""
    return AdmissionRefused(RefusalCode.REQUESTS if said == _QUOTA_WORDS else RefusalCode.THROTTLE)
