"""What every bench script shares: ports, starting processes, and a gateway database with a key."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = [sys.executable, "-m", "testsupport.upstream"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


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


def start(command: list[str], env: dict[str, str], root: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=root, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


# One process each, lifespan off (Channels' router has no lifespan app); access lines only if asked.
def server_command(server: str, port: int, app: str, access_log: bool = False, backlog: int = 0) -> list[str]:
    """The command that serves `app` on `port`; `backlog` sets daphne's listen backlog (Twisted's default is 50)."""
    if server == "daphne":  # Tollgate's logging decides on daphne's access lines (LOG_LEVEL)
        if backlog:
            return [sys.executable, "-m", "daphne", "-e", f"tcp:port={port}:interface=127.0.0.1:backlog={backlog}", app]
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    if server == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
        command += ["--loop", "uvloop", "--http", "httptools", "--no-proxy-headers", "--log-level", "warning"]
        return [*command, "--access-log" if access_log else "--no-access-log", app]
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asginl", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", "1", "--loop", "uvloop", "--http", "1", "--log-level", "warning"]
        return [*command, "--access-log" if access_log else "--no-access-log", app]
    raise SystemExit(f"unknown server {server!r}: daphne, uvicorn or granian")


def manage(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env={**os.environ, **env}, check=True, capture_output=True
    )
    return out.stdout.decode()


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """The project as it was at git `ref`, in a temporary worktree removed afterwards: a baseline to run beside."""
    folder = Path(tempfile.mkdtemp(prefix="tollgate-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)


def prepare_gateway_db(env: dict[str, str], catalogue: dict | None, root: Path = ROOT, budget: str = "") -> str:
    """Migrate a fresh database, make a key on a plan too large to run out, load a catalogue if given;
    with `budget`, the plan has that budget (in money) a day, so every call reserves and settles."""
    manage(env, "migrate", "--noinput", "-v0", root=root)
    code = (
        "from django.contrib.auth.models import User; from keys.models import Plan; "
        "from keys.services import key_create; "
        "Plan.objects.get_or_create(name='Bench', defaults={'requests_per_day': 100_000_000}); "
        + (f"Plan.objects.filter(name='Bench').update(budget={budget!r}); " if budget else "")
        + "u, _ = User.objects.get_or_create(username='bench@example.com', email='bench@example.com'); "
        "u.api_keys.update(revoked_at=__import__('django.utils.timezone').utils.timezone.now()); "
        "print(key_create(owner=u, plan_name='Bench')[1])"
    )
    key = manage(env, "shell", "-v", "0", "-c", code, root=root).strip().splitlines()[-1]
    if catalogue is not None:
        path = Path(env["DATABASE_URL"].removeprefix("sqlite:///")).with_suffix(".catalogue.json")
        path.write_text(json.dumps(catalogue))
        manage(env, "load_models", str(path), root=root)
    return key
