"""Profiles of a running server kept as bench output: py-spy's flame graph, its collapsed stacks, and the
biggest costs read from them.

Each sample is charged to the innermost frame on its stack that is Tollgate's own code or the server's
(with the libraries it called below it: a `COPY` the request log's writer runs is the writer's cost, and
aiohttp's reads are the upstream client's); a sample with neither is charged to its innermost package.
"""

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "output"  # not committed (.gitignore)
PY_SPY = Path(sys.executable).with_name("py-spy")
OWN_PACKAGES = ("keys", "gateway", "requestlog", "usage", "plumbing", "portal", "accounts", "teams", "webhooks")
OWN_PACKAGES += ("bench",)  # the bare proxy
# The server's HTTP layer, by file path; its loop and start-up frames (uvicorn/main.py, Twisted's reactor)
# sit at the root of every stack and decide nothing.
HTTP_LAYER = ("uvicorn/protocols", "daphne/http_protocol", "daphne/ws_protocol", "twisted/web", "granian")
LOOP = ("asyncio", "uvicorn", "twisted", "daphne", "<frozen runpy>", "click", "uvloop", "selectors")


def available() -> bool:
    return PY_SPY.exists()


def serving(pid: int) -> int:
    """The process that serves requests: granian's worker is a child of its supervisor."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


class Recording:
    """py-spy sampling `pid` (and its threads) on a thread of its own: `seconds` into collapsed stacks, then
    `seconds` more into a flame graph. Drive load until `done()`. Non-blocking sampling: the process is
    not paused to be read, so the profile barely slows what it measures."""

    def __init__(self, pid: int, seconds: int, name: str) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.svg, self.raw = OUTPUT / f"{name}.svg", OUTPUT / f"{name}.txt"
        common = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200"]
        self._commands = [
            [*common, "--nonblocking", "--format", "raw", "-o", str(self.raw)],
            [*common, "--nonblocking", "--format", "flamegraph", "-o", str(self.svg)],
        ]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error = ""
        self._thread.start()

    def _run(self) -> None:
        for command in self._commands:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                self.error = done.stderr.strip()[-500:]
                return

    def done(self) -> bool:
        return not self._thread.is_alive()


def _path(frame: str) -> str:
    """'function (gateway/calls.py:12)' -> 'gateway/calls.py' (py-spy names files from their import root)."""
    return frame.rsplit(" (", 1)[-1].rstrip(")").rsplit(":", 1)[0]


def _charge(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        path = _path(frame)
        package = path.split("/", 1)[0].removesuffix(".py")
        if package in OWN_PACKAGES:
            return path.removesuffix(".py").replace("/", ".")
        if path.startswith(HTTP_LAYER):
            return f"server's HTTP layer ({package})"
    leaf = _path(frames[-1]).split("/", 1)[0].removesuffix(".py")
    if leaf in LOOP:
        return "the event loop and its C code (sockets, parsing)"
    return f"{leaf}, called from the event loop"


# A stack that starts here reaches its thread's start; others are partial (py-spy reads a coroutine the
# loop resumed from its own frame up), and their charge to "called from the event loop" is a best guess.
THREAD_STARTS = ("_run_module_as_main", "Thread._bootstrap", "_bootstrap (threading")


def costs(raw: Path) -> tuple[Counter, int, int]:
    """Samples charged to each cost (see the module's docstring), the total, and how many were partial
    stacks. A sample with no Python frame at all (the server's native code: granian's Rust side) is
    counted as such."""
    charged: Counter = Counter()
    total = partial = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        partial += int(count) if stack and not stack.startswith(THREAD_STARTS) else 0
        charged[_charge(stack.split(";")) if stack else "no Python frame (native code)"] += int(count)
    return charged, total, partial


# What each charged name is part of, first match wins: the costs the README lists.
CONCERNS = (
    ("keys.metering.spool", "the kill -9 spool"),
    ("keys.metering.usage", "recording usage"),
    ("usage.", "recording usage"),
    ("keys.", "admission: the key, quota, budget and leases"),
    ("gateway.costs", "admission: the key, quota, budget and leases"),
    ("redis,", "admission: the key, quota, budget and leases"),
    ("requestlog.", "the request log"),
    ("gateway.metrics", "metrics"),
    ("prometheus_client", "metrics"),
    ("gateway.upstreams", "calling the upstream (aiohttp)"),
    ("aiohttp", "calling the upstream (aiohttp)"),
    ("server's HTTP layer", "the server: HTTP and the event loop"),
    ("the event loop", "the server: HTTP and the event loop"),
    ("gateway.", "the call's own steps: routing, validation, failover, answer"),
    ("plumbing.", "the call's own steps: routing, validation, failover, answer"),
    ("no Python frame", "the server: HTTP and the event loop"),
)


def concern(name: str) -> str:
    return next((label for prefix, label in CONCERNS if name.startswith(prefix)), "other")


def report(raw: Path, top: int = 12) -> str:
    charged, total, partial = costs(raw)
    grouped: Counter = Counter()
    for name, count in charged.items():
        grouped[concern(name)] += count
    lines = [f"biggest costs in {raw.name} ({total} samples, {partial} of them partial stacks), by concern:"]
    lines += [f"  {100 * count / max(total, 1):5.1f}%  {name}" for name, count in grouped.most_common()]
    lines.append("by module:")
    lines += [f"  {100 * count / max(total, 1):5.1f}%  {name}" for name, count in charged.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(report(Path(path), top=20))
