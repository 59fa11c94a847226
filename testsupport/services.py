"""Redis and PostgreSQL servers of the tests' own, on free ports, and databases made for one test.

Each helper raises ServiceUnavailable when its binary or server is missing; the fixtures turn that
into a skip. Fault tests may stop() a server and start() it again on the same port.
"""

import contextlib
import glob
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


class ServiceUnavailable(RuntimeError):
    """A binary or server a helper needs is not on this machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own: no persistence, so a restart brings it back empty."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise ServiceUnavailable("redis-server is not installed")
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tollgate-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise ServiceUnavailable(f"redis-server did not start on port {self.port}: {self._log()}")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def empty(self) -> None:
        """Forget every key: the whole server is this run's."""
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server binaries installed (Debian keeps them off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        raise ServiceUnavailable("PostgreSQL's initdb is not installed")
    return Path(initdb).parent


class PostgresServer:
    """A PostgreSQL cluster of our own in a temporary folder: trust auth, user postgres, a free port."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = postgres_bin_dir()
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tollgate-postgres-"))
        self.data = self.dir / "data"
        self._run_as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                self.close()
                raise ServiceUnavailable("running as root and there is no postgres user to run PostgreSQL") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self.running = False
        try:
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        except ServiceUnavailable:
            self.close()
            raise

    def _pg(self, program: str, *args: str) -> str:
        result = subprocess.run(
            [*self._run_as, str(self.bin / program), *args],
            cwd=self.dir,  # root's home may be closed to the postgres user
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise ServiceUnavailable(f"{program} {' '.join(args)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PostgresServer":
        # Durability is not wanted here: the data lives for one test run. The socket stays in our folder.
        options = f"-p {self.port} -k {shlex.quote(str(self.dir))} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start")
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Shut down ("fast" ends sessions cleanly; "immediate" is a crash and recovers at the next start)."""
        if self.running:
            self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
            self.running = False

    def close(self) -> None:
        with contextlib.suppress(ServiceUnavailable):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def running(server_class: type[RedisServer] | type[PostgresServer]) -> Iterator:
    """A started server of server_class, stopped and its folder removed afterwards."""
    server = server_class()
    try:
        yield server.start()
    finally:
        server.close()


def _with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@contextlib.contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A database named tollgate_test_<hex> on the server of base_url, dropped afterwards; yields its URL.

    base_url names a database to connect to for CREATE and DROP (postgres if it names none)."""
    import psycopg

    admin = base_url if urlsplit(base_url).path.strip("/") else _with_dbname(base_url, "postgres")
    name = f"tollgate_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(f"cannot create a database on {admin}: {exc}") from exc
    try:
        yield _with_dbname(base_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            # FORCE ends the sessions live servers may still hold; the database is ours alone.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
