"""Benchmark at the shape of LLM traffic: N slow streamed completions at once, straight to the loopback
upstream, through a bare streaming proxy, and through Tollgate. Prints each target's median round.

    .venv/bin/python bench/streams.py [--streams 1000] [--chunks 100] [--rate 20] [--rounds 2]
                                      [--open-rate 1000] [--server daphne|uvicorn] [--backlog N]

Per target: first-chunk latency, the lag each chunk adds between the upstream sending it and the
client reading it, the server's CPU time per chunk, its memory per open stream (the largest growth of
any round: the first round's, since a process keeps the memory it grew into), chunks a second, and
streams that failed, by how: reset by the peer, refused, ended without [DONE], or no chunk at all.
`--open-rate` opens that many streams a second (0: all at once). `--backlog` gives daphne's listening
socket that backlog (Twisted's default is 50; uvicorn's is 2048).
"""

import argparse
import asyncio
import functools
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import UPSTREAM, free_port, prepare_gateway_db, server_command, start, wait_for  # noqa: E402
from bench.load import build_request  # noqa: E402
from testsupport.upstream import fast_loop  # noqa: E402

DIRECT, BARE, TOLLGATE = "direct to the upstream", "bare streaming proxy (aiohttp)", "Tollgate (database counters)"

STAMP = re.compile(rb'"x_sent": ([0-9.]+)')


@dataclass
class Round:
    first_chunk: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    chunks: int = 0
    elapsed: float = 0.0
    cpu_per_chunk_us: float = 0.0
    kb_per_stream: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def fail(self, how: str) -> None:
        self.failures[how] = self.failures.get(how, 0) + 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def one_stream(port: int, request: bytes, result: Round) -> None:
    started = time.time()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    except ConnectionRefusedError:
        result.fail("refused")
        return
    except ConnectionResetError:
        result.fail("reset by peer")
        return
    except OSError as exc:
        result.fail(type(exc).__name__)
        return
    writer.write(request)
    seen_first, done, tail = False, False, b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.time()
            for stamp in STAMP.findall(data):
                if not seen_first:
                    result.first_chunk.append(now - started)
                    seen_first = True
                result.lags.append(now - float(stamp))
                result.chunks += 1
            tail = (tail + data)[-64:]
            done = done or b"[DONE]" in tail
            if tail.endswith(b"0\r\n\r\n"):  # the body's end: a stream cut short ends cleanly too
                break
        if not seen_first:
            result.fail("no chunk")
        elif not done:
            result.fail("ended without [DONE]")
    except ConnectionResetError:
        result.fail("reset by peer")
    except OSError as exc:
        result.fail(type(exc).__name__)
    finally:
        writer.close()


async def measure(port: int, pid: int | None, headers: dict, args: argparse.Namespace) -> Round:
    body = json.dumps(
        {"model": f"gap-{1000 // args.rate}", "messages": [{"role": "user", "content": "go"}], "stream": True}
    ).encode()
    request = build_request("127.0.0.1", port, "/v1/chat/completions", body, headers)
    result = Round()
    before_cpu = cpu_seconds(pid) if pid else 0.0
    before_rss = rss_kb(pid) if pid else 0
    started = time.monotonic()
    tasks = []
    for number in range(args.streams):
        if args.open_rate and number:
            # Paced against the clock, not by sleeping a fixed gap: a late wake-up opens the ones it owes.
            ahead = started + number / args.open_rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        tasks.append(asyncio.ensure_future(one_stream(port, request, result)))
    peak = 0
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.25)
        if pid:
            peak = max(peak, rss_kb(pid))
    await asyncio.gather(*tasks, return_exceptions=True)
    result.elapsed = time.monotonic() - started
    if pid:
        result.cpu_per_chunk_us = (cpu_seconds(pid) - before_cpu) / max(result.chunks, 1) * 1e6
        result.kb_per_stream = max(peak - before_rss, 0) / args.streams
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Tollgate long-stream benchmark")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--rate", type=int, default=20, help="chunks a second per stream, from the upstream")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--open-rate", type=int, default=0, help="streams opened a second (0: all at once)")
    parser.add_argument("--server", default="daphne", choices=["daphne", "uvicorn"])
    parser.add_argument(
        "--backlog", type=int, default=0, help="daphne's listen backlog (0: Twisted's 50); not uvicorn's"
    )
    args = parser.parse_args()

    up_port, bare_port, gw_port = free_port(), free_port(), free_port()
    import tempfile

    tmp = tempfile.mkdtemp(prefix="tollgate-streams-")
    upstream_url = f"http://127.0.0.1:{up_port}"
    env = {
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "LLM_BASE_URL": upstream_url + "/v1",
        "LLM_API_KEY": "provider-secret",
        "LOG_LEVEL": "WARNING",
        "UPSTREAM_ALLOW_PRIVATE": "1",  # the loopback upstream
    }
    key = prepare_gateway_db(env, None)
    upstream = start([*UPSTREAM, "--port", str(up_port), "--words", str(args.chunks), "--stamp"], {})
    serve = functools.partial(server_command, args.server, backlog=args.backlog)
    bare = start(serve(bare_port, "bench.bare_proxy:stream_app"), {"UPSTREAM": upstream_url})
    gateway = start(serve(gw_port, "portal.asgi:application"), env)
    processes = [upstream, bare, gateway]
    targets = [
        (DIRECT, up_port, None, {}),
        (BARE, bare_port, bare.pid, {}),
        (TOLLGATE, gw_port, gateway.pid, {"x-api-key": key}),
    ]
    try:
        wait_for(up_port)
        wait_for(bare_port)
        wait_for(gw_port, "/healthz")
        rounds: dict[str, list[Round]] = {name: [] for name, *_ in targets}
        for number in range(args.rounds):
            for name, port, pid, headers in targets if number % 2 == 0 else targets[::-1]:
                with asyncio.Runner(loop_factory=fast_loop()) as runner:
                    rounds[name].append(runner.run(measure(port, pid, headers, args)))
        report(rounds, args)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def report(rounds: dict[str, list[Round]], args: argparse.Namespace) -> None:
    def med(name: str, pick) -> float:
        return statistics.median(pick(r) for r in rounds[name])

    def first(q: float):
        return lambda r: pct(r.first_chunk, q)

    def lag(q: float):
        return lambda r: pct(r.lags, q) * 1000

    def rate(r: Round) -> float:
        return r.chunks / r.elapsed

    opened = f"opened at {args.open_rate} a second" if args.open_rate else "opened at once"
    print(
        f"\n{args.streams} streams x {args.chunks} chunks at {args.rate} a second each, {opened}, under "
        f"{args.server}{f' (backlog {args.backlog})' if args.backlog and args.server == 'daphne' else ''}; "
        f"median of {args.rounds}\n"
    )
    print(
        f"{'target':40} {'1st chunk p50':>13} {'p99':>6} {'lag p50':>8} {'p99':>7} {'chunks/s':>9} "
        f"{'CPU/chunk':>10} {'KB/stream':>10} {'failed':>7}"
    )
    for name in rounds:
        print(
            f"{name:40} {med(name, first(0.5)):12.3f}s {med(name, first(0.99)):5.2f}s "
            f"{med(name, lag(0.5)):6.2f}ms {med(name, lag(0.99)):5.1f}ms {med(name, rate):9.0f} "
            f"{med(name, lambda r: r.cpu_per_chunk_us):8.0f}us {max(r.kb_per_stream for r in rounds[name]):10.1f} "
            f"{med(name, lambda r: r.failed):7.0f}"
        )
    for name in rounds:
        for number, r in enumerate(rounds[name], 1):
            if r.failures:
                print(f"  {name}, round {number}: failed {r.failures}")
    print(
        f"\nTollgate vs the bare proxy: added lag per chunk {med(TOLLGATE, lag(0.5)) - med(BARE, lag(0.5)):+.2f} ms "
        f"(median), {med(TOLLGATE, lag(0.99)) - med(BARE, lag(0.99)):+.1f} ms (p99); first chunk p99 "
        f"{med(TOLLGATE, first(0.99)) / med(BARE, first(0.99)):.2f}x; "
        f"chunks/s {med(TOLLGATE, rate) / med(BARE, rate):.2f}x"
    )
    print(
        f"Tollgate vs the upstream alone: chunks/s {med(TOLLGATE, rate) / med(DIRECT, rate):.2f}x; first chunk p99 "
        f"{med(TOLLGATE, first(0.99)):.2f} s against {med(DIRECT, first(0.99)):.2f} s"
    )


if __name__ == "__main__":
    main()
