"""What this process owes the shared stores, appended to a file of its own as it happens, so that a
process killed with -9 loses nothing for good: another process on the machine replays it.

Three things live only in a process's memory between their moments: usage statistics (written once a
second), the unspent part of quota leases (handed back when a lease ends), and the calls admitted but
not yet recorded or refunded (counted by the quota already). Each change to them is
appended here as one line with one unbuffered write (it survives the process, being in the kernel's
page cache; not a power cut). Each process holds an exclusive flock on its file while it lives; the
kernel drops it when the process dies, however it dies. So a file another process can lock is a
dead process's: a thread of each working process replays such files (`spools_recover`, every
RECOVER_SECONDS):

- its leases still open give their unspent requests, tokens and money back to the quota store;
- its usage lines past the offset the database last recorded for the file (`SpoolMark`, written in
  the same transaction as each flush's rows) are added to the statistics, with the new offset, and
  so are its calls that never ended, as requests of unknown tokens;

then deletes it. The files sit in TOLLGATE_SPOOL_DIR, by default a folder of the temporary directory
named after the database, so deployments on one machine never replay each other's.
"""

import contextlib
import datetime
import fcntl
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

RECOVER_SECONDS = 15.0
ROTATE_BYTES = 8 * 1024 * 1024
OPEN_CALLS_MAX = 100_000


def spool_dir() -> Path:
    configured = getattr(settings, "TOLLGATE_SPOOL_DIR", "")
    if configured:
        return Path(configured)
    database = settings.DATABASES["default"]
    identity = f"{database.get('ENGINE')}|{database.get('HOST')}|{database.get('PORT')}|{database.get('NAME')}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"tollgate-spool-{digest}"


class Spool:
    """This process's file. Writes happen on the event loop's thread and the database thread; each is
    one os.write of one whole line, which the kernel appends whole."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.path: Path | None = None
        self.pid = 0
        self._lock = threading.Lock()  # a write never lands in a file being rotated away
        self._watcher: threading.Thread | None = None
        self.retired: list[str] = []
        self.open: dict[int, str] = {}  # calls admitted and not yet recorded or refunded: id -> their line
        self._next_call = 0

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else ""

    def _open(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            return
        self.fd, self.path = self._new_file()
        self.pid = os.getpid()

    @staticmethod
    def _new_file() -> tuple[int, Path]:
        folder = spool_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        host = socket.gethostname().replace("-", "_")[:40]
        path = folder / f"spool-{host}-{os.getpid()}-{secrets.token_hex(4)}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, path

    def write(self, line: str) -> None:
        try:
            with self._lock:
                self._open()
                os.write(self.fd, line.encode() + b"\n")
        except OSError as exc:  # a full or read-only disk costs the safety net, never a call
            logger.warning("could not write the spool %s: %s", self.path, exc)

    def rotate_if_long(self, leases, usage) -> None:
        """Past ROTATE_BYTES, start a new file holding what the old one still owed, and delete the old:
        the open leases' unspent parts and the statistics not yet written (event loop's thread)."""
        if self.fd is None or self.pid != os.getpid() or self.offset() < ROTATE_BYTES:
            return
        with self._lock:
            fd, path = self._new_file()
            lines = [*leases.spool_lines(), *usage.spool_lines(), *self.open.values()]
            if lines:
                os.write(fd, ("\n".join(lines) + "\n").encode())
            old_fd, old_path = self.fd, self.path
            self.fd, self.path = fd, path
            self.retired.append(old_path.name)
            with contextlib.suppress(OSError):
                old_path.unlink()
                os.close(old_fd)

    def offset(self) -> int:
        """The file's length now: every line written so far ends before it (0 before the first)."""
        if self.fd is None or self.pid != os.getpid():
            return 0
        try:
            return os.fstat(self.fd).st_size
        except OSError:
            return 0

    # -- Usage --------------------------------------------------------------------------------------

    def usage(
        self, key_id: int, day: datetime.date, model: str, prompt: int, completion: int, nanos: int, call: int = 0
    ) -> None:
        """One answered call's usage; `call` (from call_began) closes that call's line."""
        self.open.pop(call, None)
        self.write(usage_line(key_id, day, model, 1, prompt, completion, nanos) + f"\t{call}")

    def call_began(self, key_id: int, day: datetime.date, model: str) -> int:
        """A call was admitted: if the process dies before it is recorded or refunded, the replay
        counts it in the statistics, as the quota counted it."""
        self._next_call += 1
        line = f"A\t{self._next_call}\t{key_id}\t{day.isoformat()}\t{model}"
        if len(self.open) >= OPEN_CALLS_MAX:  # a call some path never ended: forget the oldest, not memory
            del self.open[next(iter(self.open))]
        self.open[self._next_call] = line
        self.write(line)
        return self._next_call

    def call_refunded(self, call: int) -> None:
        if self.open.pop(call, None) is not None:
            self.write(f"Z\t{call}")

    def refusal(self, key_id: int, day: datetime.date, reason: str) -> None:
        self.write(refusal_line(key_id, day, reason, 1))

    # -- Leases -------------------------------------------------------------------------------------

    def lease_grew(self, info, day: datetime.date, count: int, tokens: int, nanos: int) -> None:
        """The store counted `count` more requests (and held tokens and nanos) for this process's lease."""
        self.write(lease_line(info, day, count, tokens, nanos))

    def lease_changed(self, info, day: datetime.date, count: int, tokens: int, nanos: int) -> None:
        """The lease's unspent part changed by these: negative when spent from it or handed back."""
        self.write(f"D\t{info.key_id}\t{day.isoformat()}\t{info.plan_id}\t{count}\t{tokens}\t{nanos}")

    def watch(self) -> None:
        """From this process's first recorded call on, a thread replays dead processes' files every
        RECOVER_SECONDS, busy or idle: a dead worker's siblings need not be serving calls for it."""
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._watcher = threading.Thread(target=_watch, name="tollgate-spool", daemon=True)
        self._watcher.start()


def usage_line(key_id: int, day: datetime.date, model: str, requests: int, prompt: int, completion: int, nanos: int):
    return f"U\t{key_id}\t{day.isoformat()}\t{model}\t{prompt}\t{completion}\t{nanos}\t{requests}"


def refusal_line(key_id: int, day: datetime.date, reason: str, count: int) -> str:
    return f"R\t{key_id}\t{day.isoformat()}\t{reason}\t{count}"


def lease_line(info, day: datetime.date, count: int, tokens: int, nanos: int) -> str:
    return (
        f"L\t{info.key_id}\t{day.isoformat()}\t{info.plan_id}\t{count}\t{tokens}\t{nanos}\t{info.owner_id}"
        f"\t{info.team_id or 0}\t{info.period}\t{info.time_zone}"
    )


spool = Spool()


def _watch() -> None:
    from django.db import connection

    while True:
        time.sleep(RECOVER_SECONDS)
        try:
            spools_recover()
        except Exception:
            logger.exception("could not replay the spools of dead processes")
        finally:
            connection.close()


def _lines(path: Path) -> tuple[list[tuple[int, list[str]]], int]:
    """The file's whole lines, each with where it starts and split, and the length they span (a line
    cut by the kill is left out)."""
    data = path.read_bytes()
    end, position, lines = data.rfind(b"\n") + 1, 0, []
    for raw in data[:end].split(b"\n")[:-1]:
        lines.append((position, raw.decode(errors="replace").split("\t")))
        position += len(raw) + 1
    return lines, end


def spools_recover() -> int:
    """Replay every dead process's file in the folder (database thread); how many were replayed."""
    from keys.models import SpoolMark

    folder = spool_dir()
    if not folder.is_dir():
        return 0
    paths = sorted(path for path in folder.glob("spool-*.log") if path != spool.path)
    if spool.retired:  # files this process rotated away: what they owed is in its new file
        retired, spool.retired = spool.retired, []
        SpoolMark.objects.filter(name__in=retired).delete()
    done = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            continue  # another process replayed it just now
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process lives
            if not path.exists():
                continue
            _replay(path, fd)
            path.unlink()
            SpoolMark.objects.filter(name=path.name).delete()
            done += 1
        except Exception:
            logger.exception("could not replay the spool %s; trying again later", path.name)
        finally:
            os.close(fd)
    return done


def _replay(path: Path, fd: int) -> None:
    lines, end = _lines(path)
    _leases_give_back(lines, fd)
    _usage_add(path.name, lines, end)


def _leases_give_back(lines: list[list[str]], fd: int) -> None:
    from keys.metering.quota import get_quota_store
    from keys.metering.types import KeyInfo

    unspent: dict[tuple[str, str, str], list] = {}
    for _, fields in lines:
        if fields[0] in ("L", "D") and len(fields) in (7, 11):
            state = unspent.setdefault((fields[1], fields[2], fields[3]), [0, 0, 0, None])
            state[0] += int(fields[4])
            state[1] += int(fields[5])
            state[2] += int(fields[6])
            if fields[0] == "L":
                state[3] = fields
    store = get_quota_store()
    for (key_id, day_text, plan_id), (count, tokens, nanos, grew) in unspent.items():
        if grew is None or (count <= 0 and tokens <= 0 and nanos <= 0):
            continue
        owner, team, period, zone = grew[7:11]
        info = KeyInfo(
            key_id=int(key_id),
            owner_id=int(owner),
            plan_id=int(plan_id),
            plan_name="",
            limit=0,
            throttle_rate=None,
            throttle_burst=None,
            hashed_secret="",
            revoked=False,
            period=period,
            time_zone=zone,
            team_id=int(team) or None,
        )
        day = datetime.date.fromisoformat(day_text)
        if count > 0:
            store.give_back_sync(info, day, count)
        if tokens > 0 or nanos > 0:
            store.settle_sync(info, day, -max(tokens, 0), -max(nanos, 0))
        # Written to the dead file at once: a replay cut short never hands the same back twice.
        line = f"D\t{key_id}\t{day_text}\t{plan_id}\t{-max(count, 0)}\t{-max(tokens, 0)}\t{-max(nanos, 0)}\n"
        os.write(fd, line.encode())
        logger.info("handed back %d requests a dead process had leased for key %s", count, key_id)


def _usage_add(name: str, lines: list[list[str]], end: int) -> None:
    from keys.metering.usage import refusals_write, usage_rows_write
    from keys.models import SpoolMark

    mark = SpoolMark.objects.filter(name=name).values_list("offset", flat=True).first() or 0
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    refused: dict[tuple, int] = defaultdict(int)
    closed = {fields[8] for _, fields in lines if fields[0] == "U" and len(fields) == 9}
    closed |= {fields[1] for _, fields in lines if fields[0] == "Z" and len(fields) == 2}
    for _, fields in lines:
        if fields[0] == "A" and len(fields) == 5 and fields[1] not in closed:
            # Admitted, never recorded nor refunded: the quota counted it, and so do the statistics.
            totals[(int(fields[2]), datetime.date.fromisoformat(fields[3]), fields[4])][0] += 1
    for position, fields in lines:
        if position >= mark:
            if fields[0] == "U" and len(fields) in (8, 9):
                row = totals[(int(fields[1]), datetime.date.fromisoformat(fields[2]), fields[3])]
                row[0] += int(fields[7])
                for index in range(3):
                    row[index + 1] += int(fields[4 + index])
            elif fields[0] == "R" and len(fields) == 5:
                refused[(int(fields[1]), datetime.date.fromisoformat(fields[2]), fields[3])] += int(fields[4])
    with transaction.atomic():
        usage_rows_write(totals)
        refusals_write(refused)
        SpoolMark.objects.update_or_create(name=name, defaults={"offset": end})
    if totals:
        logger.info("added %d requests a dead process had not written yet", sum(t[0] for t in totals.values()))


def spool_mark(offset: int) -> None:
    """In a flush's transaction: this process's lines before `offset` are in the database."""
    from keys.models import SpoolMark

    if spool.path is not None and offset:
        SpoolMark.objects.update_or_create(name=spool.name, defaults={"offset": offset})


def spool_close() -> None:
    """At a clean exit, after everything was written and handed back: the file is not needed. If
    something could not be (the database was away), it stays, for another process to replay."""
    from keys.metering.leases import quota_leases
    from keys.metering.usage import usage_recorder

    if usage_recorder.holds_anything() or quota_leases.holds_anything():
        return
    from keys.models import SpoolMark

    if spool.fd is not None and spool.pid == os.getpid():
        with contextlib.suppress(Exception):
            SpoolMark.objects.filter(name=spool.name).delete()
        with contextlib.suppress(OSError):
            spool.path.unlink()
            os.close(spool.fd)
        spool.fd = None
