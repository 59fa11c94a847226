"""Benchmark: the same chat completion straight to the loopback upstream, through a bare ASGI proxy, and
through Tollgate's gateway (database counters, a model catalogue, Redis counters), in alternating rounds
at concurrency 16 and one at a time. Prints each target's median round, and ratios side by side.

    make bench            # or: .venv/bin/python bench/gateway.py [--rounds 5] [--requests 4000] [--no-redis]
                          #     [--against <git ref>]: Tollgate as it was at that commit runs beside

LiteLLM's proxy joins the run with --litellm PATH, the `litellm` command of a scratch venv
(`python -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'`): never a requirement.
"""

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import UPSTREAM, checkout, free_port, prepare_gateway_db, start, wait_for  # noqa: E402
from bench.load import Result, build_request, run  # noqa: E402
from testsupport.services import RedisServer  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello"}]
BARE = "bare ASGI proxy (daphne + aiohttp)"


@dataclass
class Target:
    name: str
    port: int
    headers: dict[str, str]
    rounds: list[tuple[Result, Result]] = field(default_factory=list)

    def median(self, pick) -> float:
        return statistics.median(pick(one, many) for one, many in self.rounds)


async def measure(target: Target, sequential: int, concurrent: int, body: bytes) -> tuple[Result, Result]:
    request = build_request("127.0.0.1", target.port, "/v1/chat/completions", body, target.headers)
    await run("127.0.0.1", target.port, request, concurrency=16, requests=300)  # warm connections and caches
    one = await run("127.0.0.1", target.port, request, concurrency=1, requests=sequential)
    many = await run("127.0.0.1", target.port, request, concurrency=16, requests=concurrent)
    if one.errors or many.errors:
        raise SystemExit(f"{target.name}: {one.errors + many.errors} requests failed")
    return one, many


LITELLM = "LiteLLM proxy, one worker"


def start_litellm(command: str, port: int, upstream_url: str, tmp: str) -> subprocess.Popen:
    """LiteLLM's proxy with one worker, its master key and no database, in front of the same upstream."""
    config = Path(tmp, "litellm.yaml")
    config.write_text(
        "model_list:\n"
        "  - model_name: loopback-model\n"
        "    litellm_params:\n"
        "      model: openai/loopback-model\n"
        f"      api_base: {upstream_url}/v1\n"
        "      api_key: provider-secret\n"
        "general_settings:\n"
        "  master_key: sk-bench\n"
    )
    env = {"LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return start([command, "--config", str(config), "--port", str(port), "--num_workers", "1"], env)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate gateway benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; each target's median is kept")
    parser.add_argument("--requests", type=int, default=4000, help="requests at concurrency 16 per target per round")
    parser.add_argument("--sequential", type=int, default=800, help="requests one at a time per target per round")
    parser.add_argument("--redis", default="", help="REDIS_URL for the Redis target (default: its own redis-server)")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis-counter target")
    parser.add_argument("--stream", action="store_true", help="streamed completions (SSE) instead of whole ones")
    parser.add_argument(
        "--against", default="", help="a git ref: Tollgate as it was there runs beside (database counters)"
    )
    parser.add_argument("--litellm", default="", help="a scratch venv's `litellm` command: LiteLLM's proxy joins in")
    args = parser.parse_args()
    body = json.dumps({"model": "loopback-model", "messages": MESSAGES, "stream": args.stream}).encode()

    up_port, bare_port, tuned_port = free_port(), free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    Path(tmp, "metrics").mkdir()
    upstream_url = f"http://127.0.0.1:{up_port}"
    catalogue = {
        "upstreams": [{"name": "loop", "base_url": upstream_url + "/v1", "api_key": "provider-secret"}],
        "models": [{"name": "loopback-model", "upstreams": ["loop"]}],
    }
    priced = {
        **catalogue,
        "models": [{**catalogue["models"][0], "price": {"input_per_million": "0.5", "output_per_million": "1.5"}}],
    }
    # (name, Redis URL, catalogue, extra environment, budget): a budget makes every call reserve and settle.
    gateways = [
        ("Tollgate, database counters", "", None, {}, ""),
        ("Tollgate + catalogue", "", catalogue, {}, ""),
        ("Tollgate + budget, token prices", "", priced, {}, "1000000"),
        ("Tollgate + metrics", "", None, {"METRICS_TOKEN": "bench", "PROMETHEUS_MULTIPROC_DIR": f"{tmp}/metrics"}, ""),
    ]
    own_redis = None
    if not args.no_redis and not args.redis and shutil.which("redis-server"):
        own_redis = RedisServer().start()  # never a shared Redis: the bench writes counters
        args.redis = own_redis.url
    if args.redis:
        gateways.append(("Tollgate, Redis counters", args.redis, None, {}, ""))
        gateways.append(("Tollgate, Redis + budget, prices", args.redis, priced, {}, "1000000"))
    daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
    processes = [
        start([*UPSTREAM, "--port", str(up_port)], {}),
        start([*daphne, "-p", str(bare_port), "bench.bare_proxy:app"], {"UPSTREAM": upstream_url}),
        start(
            [*daphne, "-p", str(tuned_port), "bench.bare_proxy:app"], {"UPSTREAM": upstream_url, "DAPHNE_TUNED": "1"}
        ),
    ]
    targets = [
        Target("direct to the upstream", up_port, {}),
        Target(BARE, bare_port, {}),
        Target("bare proxy, Tollgate's daphne tuning", tuned_port, {}),
    ]
    base_env = {
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "LLM_BASE_URL": upstream_url + "/v1",
        "LLM_API_KEY": "provider-secret",
        "LOG_LEVEL": "WARNING",
        "UPSTREAM_ALLOW_PRIVATE": "1",  # the loopback upstream
    }
    stack = contextlib.ExitStack()
    try:
        for index, (name, redis_url, with_catalogue, extra, budget) in enumerate(gateways):
            port = free_port()
            env = {
                **base_env,
                "DATABASE_URL": f"sqlite:///{tmp}/bench-{index}.sqlite3",
                "REDIS_URL": redis_url,
                **extra,
            }
            key = prepare_gateway_db(env, with_catalogue, budget=budget)
            processes.append(start([*daphne, "-p", str(port), "portal.asgi:application"], env))
            targets.append(Target(name, port, {"x-api-key": key}))
        if args.against:
            baseline = stack.enter_context(checkout(args.against))
            port = free_port()
            env = {**base_env, "DATABASE_URL": f"sqlite:///{tmp}/bench-baseline.sqlite3", "REDIS_URL": ""}
            key = prepare_gateway_db(env, None, root=baseline)
            processes.append(start([*daphne, "-p", str(port), "portal.asgi:application"], env, root=baseline))
            targets.append(Target(f"Tollgate at {args.against}, database counters", port, {"x-api-key": key}))
        if args.litellm:
            port = free_port()
            processes.append(start_litellm(args.litellm, port, upstream_url, tmp))
            targets.append(Target(LITELLM, port, {"authorization": "Bearer sk-bench"}))
        for target in targets:
            if target.name == LITELLM:
                wait_for(target.port, "/health/liveliness", timeout=180)
            else:
                wait_for(target.port, "/" if target.port in (up_port, bare_port, tuned_port) else "/healthz")
        for number in range(args.rounds):
            for target in targets if number % 2 == 0 else targets[::-1]:
                target.rounds.append(asyncio.run(measure(target, args.sequential, args.requests, body)))
        report(targets, args)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        if own_redis is not None:
            own_redis.close()
        stack.close()


def report(targets: list[Target], args: argparse.Namespace) -> None:
    direct, bare = targets[0], targets[1]
    kind = "streamed (SSE)" if args.stream else "whole"
    print(f"\nTollgate gateway benchmark: {kind} completions, median of {args.rounds} alternating rounds; ms\n")
    print(f"{'target':38} {'c=1 median':>10} {'c=1 p99':>8} {'c=16 median':>11} {'c=16 p99':>9} {'c=16 rps':>9}")
    for t in targets:
        print(
            f"{t.name:38} {t.median(lambda o, m: o.median_ms):10.2f} {t.median(lambda o, m: o.p99_ms):8.2f} "
            f"{t.median(lambda o, m: m.median_ms):11.2f} {t.median(lambda o, m: m.p99_ms):9.2f} "
            f"{t.median(lambda o, m: m.rps):9.0f}"
        )
    direct_one = direct.median(lambda o, m: o.median_ms)
    bare_rps, bare_p99 = bare.median(lambda o, m: m.rps), bare.median(lambda o, m: m.p99_ms)
    tuned_rps = targets[2].median(lambda o, m: m.rps)
    print(
        f"\n{'added over direct':38} {'c=1 median':>10} {'rps vs bare proxy':>18} {'vs tuned bare':>14} "
        f"{'c=16 p99 vs bare':>17}"
    )
    for t in targets[1:]:
        added = t.median(lambda o, m: o.median_ms) - direct_one
        rps = t.median(lambda o, m: m.rps)
        p99 = t.median(lambda o, m: m.p99_ms) / bare_p99
        print(f"{t.name:38} {added:10.2f} {rps / bare_rps:18.2f} {rps / tuned_rps:14.2f} {p99:17.2f}")
    print(f"\nupstream alone: {direct.median(lambda o, m: m.rps):.0f} rps at c=16 (must be >= 10,000)")


if __name__ == "__main__":
    main()
