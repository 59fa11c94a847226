"""Benchmark: Tollgate as production runs it, beside the bare proxy, under each ASGI server in turn.

Tollgate here has PostgreSQL (a database of its own, dropped after), Redis counters and channel layer
(a redis-server of its own), metrics on, the request log on (the default), and a plan with a budget on
a model with token prices: every call reserves, settles and writes a log row. Each server (daphne,
uvicorn with uvloop and httptools, granian's ASGI) serves the bare proxy and Tollgate, one process
each; all targets take turns in alternating rounds, and each target's median round is kept.

    .venv/bin/python bench/production.py [--servers daphne,uvicorn,granian] [--rounds 5] [--requests 3000]
                                         [--postgres URL] [--redis URL] [--pages 1000] [--access-log]
                                         [--no-socket-check]

Before measuring, each server's Tollgate is checked to serve a page, /healthz and a chat socket that
answers after idling past the Redis layer's 5-second blocking read. Each round also times the log-in
page, and the servers' CPU per request (their own processes, not PostgreSQL's or Redis's) is read from
/proc: steadier than requests a second when other work shares the machine. Figures: docs/servers.md.
"""

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import profile  # noqa: E402
from bench.gateway import MESSAGES, Target, measure  # noqa: E402
from bench.harness import UPSTREAM, free_port, manage, prepare_gateway_db, server_command, start, wait_for  # noqa: E402
from bench.load import Result, build_request, run  # noqa: E402
from testsupport.services import RedisServer, postgres_database  # noqa: E402

PRICED = {"input_per_million": "0.5", "output_per_million": "1.5"}
SOCKET_IDLE = 8  # past channels_redis's 5-second BZPOPMIN and redis-py's default read timeout


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (granian serves from a child): steadier than rps on a busy machine."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(cpu_seconds(int(child)) for child in children.read_text().split())


def prepare(env: dict[str, str], upstream_url: str, tmp: str) -> tuple[str, int, str]:
    """Migrate, make the budget plan's key and load the priced catalogue; returns the key, its id and a
    logged-in session cookie of its owner for the chat socket."""
    key = prepare_gateway_db(env, None, budget="1000000")
    catalogue = {
        "upstreams": [{"name": "loop", "base_url": upstream_url + "/v1", "api_key": "provider-secret"}],
        "models": [{"name": "loopback-model", "upstreams": ["loop"], "price": PRICED}],
    }
    path = Path(tmp, "catalogue.json")
    path.write_text(json.dumps(catalogue))
    manage(env, "load_models", str(path))
    code = (
        "from django.conf import settings; from django.contrib import auth; "
        "from django.contrib.auth.models import User; from django.contrib.sessions.backends.db import SessionStore; "
        "u = User.objects.get(username='bench@example.com'); s = SessionStore(); "
        "s[auth.SESSION_KEY] = str(u.pk); s[auth.BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]; "
        "s[auth.HASH_SESSION_KEY] = u.get_session_auth_hash(); s.save(); "
        "print(u.api_keys.filter(revoked_at=None).latest('pk').pk, s.session_key)"
    )
    key_id, session = manage(env, "shell", "-v", "0", "-c", code).strip().splitlines()[-1].split()
    return key, int(key_id), session


async def socket_check(port: int, key_id: int, session: str) -> str:
    """A chat socket opened as the site's page opens it: idle past the layer's blocking read, then a turn."""
    import websockets

    headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={session}"}
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/chat/", additional_headers=headers) as socket:
        await asyncio.sleep(SOCKET_IDLE)
        frame = {"type": "send", "key": key_id, "conversation": None, "content": "Still there?"}
        await socket.send(json.dumps({**frame, "model": "loopback-model"}))
        frames: list[dict] = []
        while not frames or frames[-1]["type"] not in ("done", "error", "stopped"):
            frames.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
    text = "".join(f["text"] for f in frames if f["type"] == "delta")
    if frames[-1]["type"] != "done" or not text:
        raise SystemExit(f"chat socket on port {port} answered {frames[-1]}")
    return f"{len(frames)} frames, {len(text)} characters after {SOCKET_IDLE} s idle"


def page_check(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as response:
        if response.status != 200 or b"<form" not in response.read():
            raise SystemExit(f"the log-in page on port {port} answered {response.status}")
    return "log-in page 200"


async def measure_page(port: int, requests: int) -> Result:
    """GET the log-in page (Django's full middleware, session and template stack) at concurrency 16."""
    request = f"GET /accounts/login/ HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode()
    await run("127.0.0.1", port, request, concurrency=16, requests=100)
    result = await run("127.0.0.1", port, request, concurrency=16, requests=requests)
    if result.errors:
        raise SystemExit(f"the log-in page on port {port}: {result.errors} requests failed")
    return result


async def profile_under_load(target: Target, pid: int, body: bytes, seconds: int) -> str:
    """py-spy the target while c=16 load runs; the flame graph and stacks land in bench/output/."""
    if not profile.available():
        return f"no py-spy beside {sys.executable}: make bench installs it (requirements-bench.txt)"
    request = build_request("127.0.0.1", target.port, "/v1/chat/completions", body, target.headers)
    recording = profile.Recording(pid, seconds, "tollgate-" + target.name.split(":")[0])
    while not recording.done():
        await run("127.0.0.1", target.port, request, concurrency=16, requests=1000)
    if recording.error:
        return f"py-spy failed on {target.name}: {recording.error}"
    return f"{profile.report(recording.raw)}\nflame graph: {recording.svg.relative_to(ROOT)}"


def start_targets(
    servers: list[str], env: dict[str, str], key: str, processes: list, access_log: bool, tmp: str
) -> tuple[list[Target], dict[str, int]]:
    """The upstream (processes[0]) first, then each server's bare proxy and Tollgate; with their process ids."""
    upstream_url = env["LLM_BASE_URL"].removesuffix("/v1")
    targets = [Target("direct to the upstream", int(upstream_url.rsplit(":", 1)[1]), {})]
    pids = {targets[0].name: processes[0].pid}
    for server in servers:
        bare_port, port = free_port(), free_port()
        # The bare proxy gets Tollgate's own tuning of the server it runs under (only daphne has any).
        bare_env = {"UPSTREAM": upstream_url, **({"DAPHNE_TUNED": "1"} if server == "daphne" else {})}
        processes.append(start(server_command(server, bare_port, "bench.bare_proxy:app", access_log), bare_env))
        metrics = Path(tmp, f"metrics-{server}")
        metrics.mkdir()  # empty when the server starts, as prometheus_client's multiprocess mode needs
        tollgate_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        processes.append(start(server_command(server, port, "portal.asgi:application", access_log), tollgate_env))
        targets.append(Target(f"{server}: bare proxy", bare_port, {}))
        targets.append(Target(f"{server}: Tollgate", port, {"x-api-key": key}))
        pids.update({targets[-2].name: processes[-2].pid, targets[-1].name: processes[-1].pid})
    return targets, pids


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate's production profile under each ASGI server")
    installed = ",".join(name for name in ("daphne", "uvicorn", "granian") if importlib.util.find_spec(name))
    parser.add_argument("--servers", default=installed, help="comma-separated: daphne,uvicorn,granian (installed)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; each target's median is kept")
    parser.add_argument("--requests", type=int, default=3000, help="requests at concurrency 16 per target per round")
    parser.add_argument("--sequential", type=int, default=500, help="requests one at a time per target per round")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to make the bench's own database on",
    )
    parser.add_argument("--redis", default="", help="an empty Redis database's URL (default: its own redis-server)")
    parser.add_argument("--pages", type=int, default=1000, help="log-in page GETs at c=16 per server per round")
    parser.add_argument("--access-log", action="store_true", help="LOG_LEVEL=INFO and every server's access lines")
    parser.add_argument("--no-socket-check", action="store_true", help="skip the page and chat-socket checks")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="SECONDS", help="after the rounds, py-spy each Tollgate under load"
    )
    args = parser.parse_args()
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    body = json.dumps({"model": "loopback-model", "messages": MESSAGES}).encode()
    tmp = tempfile.mkdtemp(prefix="tollgate-production-")
    up_port = free_port()
    upstream_url = f"http://127.0.0.1:{up_port}"
    processes = [start([*UPSTREAM, "--port", str(up_port)], {})]
    own_redis = None if args.redis else RedisServer().start()  # never a shared Redis: the bench writes counters
    redis_url = args.redis or own_redis.url
    try:
        with postgres_database(args.postgres) as database_url:
            env = {
                "DJANGO_SECRET_KEY": "bench",
                "DJANGO_DEBUG": "0",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "METRICS_TOKEN": "bench",
                "LLM_BASE_URL": upstream_url + "/v1",
                "LLM_API_KEY": "provider-secret",
                "LOG_LEVEL": "INFO" if args.access_log else "WARNING",
                "UPSTREAM_ALLOW_PRIVATE": "1",  # the loopback upstream
            }
            key, key_id, session = prepare(env, upstream_url, tmp)
            targets, pids = start_targets(servers, env, key, processes, args.access_log, tmp)
            for target in targets:
                wait_for(target.port, "/healthz" if target.name.endswith("Tollgate") else "/")
            if not args.no_socket_check:
                for target in targets[2::2]:
                    checks = [page_check(target.port), asyncio.run(socket_check(target.port, key_id, session))]
                    print(f"{target.name}: {'; '.join(checks)}", flush=True)
            pages: dict[str, list[Result]] = {t.name: [] for t in targets[2::2]}
            cpu: dict[str, list[float]] = {t.name: [] for t in targets}  # per request, in microseconds
            for number in range(args.rounds):
                for target in targets if number % 2 == 0 else targets[::-1]:
                    before = cpu_seconds(pids[target.name])
                    target.rounds.append(asyncio.run(measure(target, args.sequential, args.requests, body)))
                    spent = cpu_seconds(pids[target.name]) - before
                    cpu[target.name].append(spent * 1e6 / (300 + args.sequential + args.requests))
                    if target.name in pages and args.pages:
                        pages[target.name].append(asyncio.run(measure_page(target.port, args.pages)))
                print(f"round {number + 1} of {args.rounds} done; load average {os.getloadavg()[0]:.2f}", flush=True)
            report(targets, pages, cpu, args)
            if args.profile:
                for target in targets[2::2]:
                    print(
                        "\n"
                        + asyncio.run(
                            profile_under_load(target, profile.serving(pids[target.name]), body, args.profile)
                        )
                    )
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        if own_redis is not None:
            own_redis.close()
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    targets: list[Target], pages: dict[str, list[Result]], cpu: dict[str, list[float]], args: argparse.Namespace
) -> None:
    direct = targets[0]
    print(f"\nProduction profile: median of {args.rounds} alternating rounds, {args.requests} requests at c=16")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(f"{'target':22} {'c=1 median':>10} {'c=16 median':>11} {'c=16 p99':>9} {'c=16 rps':>9} {'CPU µs/req':>11}")
    for t in targets:
        print(
            f"{t.name:22} {t.median(lambda o, m: o.median_ms):10.2f} {t.median(lambda o, m: m.median_ms):11.2f} "
            f"{t.median(lambda o, m: m.p99_ms):9.2f} {t.median(lambda o, m: m.rps):9.0f} "
            f"{statistics.median(cpu[t.name]):11.0f}"
        )
    print(
        f"\n{'server':10} {'bare rps':>9} {'Tollgate rps':>13} {'ratio':>6} {'added c=1 ms':>13} "
        f"{'added c=16 ms':>14} {'p99 ratio':>10} {'added CPU µs':>13}"
    )
    for bare, gate in zip(targets[1::2], targets[2::2], strict=True):
        bare_rps, rps = bare.median(lambda o, m: m.rps), gate.median(lambda o, m: m.rps)
        added_one = gate.median(lambda o, m: o.median_ms) - bare.median(lambda o, m: o.median_ms)
        added_many = gate.median(lambda o, m: m.median_ms) - bare.median(lambda o, m: m.median_ms)
        p99 = gate.median(lambda o, m: m.p99_ms) / bare.median(lambda o, m: m.p99_ms)
        server = bare.name.split(":")[0]
        added_cpu = statistics.median(cpu[gate.name]) - statistics.median(cpu[bare.name])
        print(
            f"{server:10} {bare_rps:9.0f} {rps:13.0f} {rps / bare_rps:6.2f} {added_one:13.2f} "
            f"{added_many:14.2f} {p99:10.2f} {added_cpu:13.0f}"
        )
    if args.pages:
        print(f"\n{'log-in page, c=16':22} {'median ms':>10} {'p99 ms':>9} {'rps':>9}")
        for name, results in pages.items():
            print(
                f"{name.split(':')[0]:22} {statistics.median(r.median_ms for r in results):10.2f} "
                f"{statistics.median(r.p99_ms for r in results):9.2f} {statistics.median(r.rps for r in results):9.0f}"
            )
    print(f"\nupstream alone: {direct.median(lambda o, m: m.rps):.0f} rps at c=16 (must be >= 10,000)")


if __name__ == "__main__":
    main()
