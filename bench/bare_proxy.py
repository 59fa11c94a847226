"""Baseline: the leanest ASGI proxy (aiohttp client, no auth, no quota) to compare the gateway against.

Serve with: UPSTREAM=http://127.0.0.1:9100 daphne -p 9200 bench.bare_proxy:app
"""

import os

import aiohttp

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9100")
if os.environ.get("DAPHNE_TUNED"):
    # The same daphne tuning Tollgate applies to itself, to see how much of its lead comes from there.
    from portal.daphne_limits import install
    from portal.eager_writes import install as install_eager_writes

    install(max_body=26 * 1024 * 1024)
    install_eager_writes()
_session: aiohttp.ClientSession | None = None


async def read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope, receive, send) -> None:
    global _session
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if _session is None:
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    async with _session.post(UPSTREAM + scope["path"], data=body, headers={"content-type": "application/json"}) as r:
        answer = await r.read()
        status = r.status
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


async def stream_app(scope, receive, send) -> None:
    """The same proxy relaying a streamed answer chunk by chunk, as it arrives."""
    global _session
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if _session is None:
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    async with _session.post(UPSTREAM + scope["path"], data=body, headers={"content-type": "application/json"}) as r:
        headers = [(b"content-type", r.headers.get("content-type", "text/event-stream").encode())]
        await send({"type": "http.response.start", "status": r.status, "headers": headers})
        async for chunk in r.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
