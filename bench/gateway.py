"""Benchmark: the same chat completion straight to the loopback upstream, through a bare ASGI proxy, and
through Tollgate's gateway, sequentially and at concurrency 16, in one run. Prints ratios side by side.

    make bench            # or: .venv/bin/python bench/gateway.py [--redis] [--requests 8000]
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Result, build_request, run  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, path: str = "/", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if path == "/":
                    return
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def prepare_gateway_db(env: dict[str, str]) -> str:
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True
    )
    code = (
        "from django.contrib.auth.models import User; from keys.models import Plan; "
        "from keys.services import key_create; "
        "Plan.objects.get_or_create(name='Bench', defaults={'requests_per_day': 100_000_000}); "
        "u, _ = User.objects.get_or_create(username='bench@example.com', email='bench@example.com'); "
        "u.api_keys.update(revoked_at=__import__('django.utils.timezone').utils.timezone.now()); "
        "print(key_create(owner=u, plan_name='Bench')[1])"
    )
    out = subprocess.run(
        [python, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def measure(
    port: int, path: str, headers: dict[str, str], sequential: int, concurrent: int, body: bytes
) -> tuple[Result, Result]:
    request = build_request("127.0.0.1", port, path, body, headers)
    await run("127.0.0.1", port, request, concurrency=16, requests=500)  # warm up connections and caches
    one = await run("127.0.0.1", port, request, concurrency=1, requests=sequential)
    many = await run("127.0.0.1", port, request, concurrency=16, requests=concurrent)
    return one, many


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate gateway benchmark")
    parser.add_argument("--requests", type=int, default=8000, help="requests at concurrency 16 per target")
    parser.add_argument("--sequential", type=int, default=1500, help="requests one at a time per target")
    parser.add_argument("--redis", default="", help="REDIS_URL for the gateway's quota counters (default: SQLite)")
    parser.add_argument("--stream", action="store_true", help="streamed completions (SSE) instead of whole ones")
    args = parser.parse_args()
    body = json.dumps({"model": "loopback-model", "messages": MESSAGES, "stream": args.stream}).encode()

    up_port, bare_port, gw_port = free_port(), free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    upstream_url = f"http://127.0.0.1:{up_port}"
    gw_env = {
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "LLM_BASE_URL": upstream_url + "/v1",
        "LLM_API_KEY": "provider-secret",
        "REDIS_URL": args.redis,
        "LOG_LEVEL": "WARNING",
    }
    key = prepare_gateway_db(gw_env)
    daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
    processes = [
        start([sys.executable, "bench/upstream.py", "--port", str(up_port)], {}),
        start([*daphne, "-p", str(bare_port), "bench.bare_proxy:app"], {"UPSTREAM": upstream_url}),
        start([*daphne, "-p", str(gw_port), "portal.asgi:application"], gw_env),
    ]
    try:
        wait_for(up_port)
        wait_for(bare_port)
        wait_for(gw_port, "/healthz")
        targets = [
            ("direct to the upstream", up_port, {}),
            ("bare ASGI proxy (daphne + aiohttp)", bare_port, {}),
            ("Tollgate gateway (daphne)", gw_port, {"x-api-key": key}),
        ]
        results = {}
        for name, port, headers in targets:
            results[name] = asyncio.run(
                measure(port, "/v1/chat/completions", headers, args.sequential, args.requests, body)
            )
            one, many = results[name]
            if one.errors or many.errors:
                raise SystemExit(f"{name}: {one.errors + many.errors} requests failed")
        report(results, quota="Redis" if args.redis else "SQLite", stream=args.stream)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def report(results: dict[str, tuple[Result, Result]], quota: str, stream: bool) -> None:
    direct_one, direct_many = results["direct to the upstream"]
    bare_many = results["bare ASGI proxy (daphne + aiohttp)"][1]
    kind = "streamed (SSE)" if stream else "whole"
    print(f"\nTollgate gateway benchmark ({kind} completions; quota counters: {quota}); latencies in ms\n")
    print(f"{'target':38} {'c=1 median':>10} {'c=1 p99':>8} {'c=16 median':>11} {'c=16 p99':>9} {'c=16 rps':>9}")
    for name, (one, many) in results.items():
        sequential = f"{one.median_ms:10.2f} {one.p99_ms:8.2f}"
        print(f"{name:38} {sequential} {many.median_ms:11.2f} {many.p99_ms:9.2f} {many.rps:9.0f}")
    print("\nadded over direct        median c=1   p99 c=1   median c=16   rps vs direct   rps vs bare proxy")
    for name, (one, many) in list(results.items())[1:]:
        print(
            f"{name:24.24} {one.median_ms - direct_one.median_ms:10.2f} {one.p99_ms - direct_one.p99_ms:9.2f} "
            f"{many.median_ms - direct_many.median_ms:13.2f} {many.rps / direct_many.rps:15.2f} "
            f"{many.rps / bare_many.rps:19.2f}"
        )
    gateway_one, gateway_many = results["Tollgate gateway (daphne)"]
    added = gateway_one.median_ms - direct_one.median_ms
    ratio = gateway_many.rps / bare_many.rps
    print(f"\ntarget: median added latency <= 2 ms: {added:.2f} ms {'OK' if added <= 2 else 'MISSED'}")
    print(f"target: throughput >= 0.5 x bare proxy: {ratio:.2f} x {'OK' if ratio >= 0.5 else 'MISSED'}")
    print(
        f"upstream alone: {direct_many.rps:.0f} rps at c=16 "
        "(must be >= 10,000 to measure the gateway, not the upstream)"
    )


if __name__ == "__main__":
    main()
