"""The live loop, one REST send, throughput under many clients, and idle sockets, on a real server.

Run from the repository root (docs/reference/benchmarks-live.md explains the figures)::

    python tests/benchmarks/bench_live.py --runs 4 --loops 300 --sends 300 --clients 64 \
        --notices 3000 --idle 5000 --before /tmp/hotline-before \
        [--database-url postgresql://postgres@127.0.0.1/test]
    python tests/benchmarks/bench_live.py --workers 1,2,4 --runs 3 \
        --database-url postgresql://postgres@127.0.0.1/test

It starts ``python -m server demo --json`` (with the ``Server`` of ``bench_send.py``) on a
fresh SQLite file, or with ``--database-url`` on a fresh PostgreSQL database that it
creates on that server and drops at the end, and, in each run, measures:

- **loop**: ana sends a notice over REST; carla's socket gets ``notice.sent`` and answers
  ``decide``; ana's own socket gets ``notice.acknowledged``. One notice at a time, timed
  from just before the POST until ana's socket has the acknowledgement;
- **send**: ``--sends`` notices sent one after another over one keep-alive connection,
  each followed by ``GET /healthz`` over the same connection, the HTTP floor (the
  functions of ``bench_send.py``);
- **throughput**: ``--clients`` concurrent senders, each with its own HTTP connection,
  send ``--notices`` notices in all, each as soon as its previous one is answered, while
  ``--consumers`` sockets of the roads party acknowledge every notice as it arrives.
  Counted from the first send to the last ``notice.acknowledged`` that ana's socket sees.
  Then the log is read back: it must have grown by exactly the three events of each
  notice sent, in order, with no gap.

Then, on a fresh server and database, **idle**: the server's resident memory before and
after another process opens ``--idle`` sockets that say hello, subscribe (spread over
``--idle-channels`` channels) and only listen; and the same for a bare python-websockets
server, as a floor.

Beside them it measures this machine's floors: a WebSocket echo round trip to a bare
python-websockets server in another process, and a durable one-row commit (SQLite in WAL
mode with ``synchronous=FULL``, as the server runs; or an ``INSERT`` in a transaction of
its own over asyncpg). The summary prints each of the issue's targets beside its floor.

With ``--before DIR`` (a git worktree of the code before, made from ``BEFORE`` if missing)
it starts two servers at once, one on that code and one on this tree (each with
``PYTHONPATH`` at its tree), each on its own fresh database, and runs every part of a run
on both in turn, the order reversed from one run to the next (ABBA), then prints each
code's figures and their ratios side by side. With ``--profile DIR`` the servers are
sampled by py-spy during the loop and throughput parts, and each thread's wall time is
printed by what it was doing; the figures of a profiled run are not the benchmark's.

With ``--workers 1,2,4`` (PostgreSQL; docs/reference/benchmarks-live.md, "Issue 12") each
run starts, for each worker count in turn, the demo with ``HOTLINE_WORKERS`` at that count
on a fresh database, warms it up, runs the loop and throughput parts on it and stops it;
the order of the counts is reversed from one run to the next. The server's CPU is summed
over the supervisor and every process under it; the throughput part also says which
worker held each sender's connection, each worker's CPU, how long the event loops waited
for a CPU, and PostgreSQL's CPU when it runs on this machine. A table then compares the
counts. ``--parts`` picks the parts (``floors,loop,send,throughput,idle``) and
``--channels K`` spreads the throughput part's senders over K channels. The script is not
a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from bench_send import Server, code_of, cpu_model, descendants, health, sender
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from server.service import admin, demo
from server.store.db import Database
from server.store.migrate import upgrade

STEP = 10.0
"""Seconds any one request, message or handshake may take."""
BUSY_STEP = 120.0
"""Seconds one send may take in the throughput phase, where it queues behind many others."""
PHASE_TIMEOUT = 600.0
"""Seconds any one phase (a run's loops, a throughput run, opening idle sockets) may take."""
WS_PATH = "/api/v1/ws"
WINDOW = 2
"""Commands a benchmark socket may have awaiting their result at once."""
IDLE_CONCURRENCY = 100
"""Idle sockets opened (or closed) at once."""
PROFILE_RATE = 25
"""py-spy samples per second with ``--profile`` (each one pauses the server briefly)."""
ECHO_BYTES = 600
"""Size of the echo floor's message: about an ``event`` message carrying ``notice.sent``."""
SEND_WARMUP = 10
"""Untimed sends (and round trips) on a fresh connection before a send part's timed ones."""
PAGE = 1000
"""Events read a request when the log is checked after a throughput run (the API's most)."""
BODY = "Open trench on the north lane; one lane closed with signals."
ROOT = Path(__file__).resolve().parents[2]
"""This tree: the code the servers run, unless ``--before`` names the code before."""
BEFORE = "3b64242"
"""The commit before the single writer (issue 9): ``--before DIR`` is made from it if missing."""
TARGETS: dict[str, dict[str, float]] = {
    "sqlite": {
        "loop p50": 3.0,
        "loop p99": 8.0,
        "notices/s": 1000.0,
        "send": 1.5,
        "idle MiB": 100.0,
    },
    "postgresql": {"loop p50": 5.0, "notices/s": 500.0, "idle MiB": 100.0},
}
"""Issue 9's targets by database, each "at most" but notices per second "at least":
milliseconds, notices per second, MiB of resident memory above a fresh server process."""
IDLE_TARGET_SOCKETS = 5000
"""The idle sockets the ``idle MiB`` target is for; other counts are held to its share."""
PARTS = ("floors", "loop", "send", "throughput", "idle")
"""What ``--parts`` may name: the machine's floors and the four parts of the docstring."""
WORKER_PARTS = ("floors", "loop", "throughput")
"""The parts ``--workers`` runs unless ``--parts`` says otherwise."""
PROOF_TARGET = "an inclusion proof served at 10^6 events: <= 2 ms (bench_log.py measures it)"

Json = dict[str, Any]
T = TypeVar("T")


# -- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """Median, 90th and 99th percentiles of some times, in milliseconds."""

    median: float
    p99: float
    count: int
    p90: float

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        """Summarise times given in seconds (at least one)."""
        ms = sorted(s * 1000 for s in seconds)
        cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
        return cls(median=statistics.median(ms), p99=cuts[98], count=len(ms), p90=cuts[89])

    def __str__(self) -> str:
        return f"{self.median:9.2f} {self.p99:8.2f}"


@dataclass(frozen=True, slots=True)
class Flow:
    """One throughput run."""

    notices: int
    channels: int
    """The channels the notices were spread over."""
    seconds: float
    """From the first send to the last acknowledgement ana's socket saw."""
    sends_seconds: float
    """From the first send to the last send answered."""
    latency: Spread
    """Per notice, from just before its POST to ana's socket having its acknowledgement."""
    server_cpu: float
    """The server's CPU time over the run, as a share of one core (all its threads; with
    several workers, all its processes)."""
    server_loop_cpu: float
    """The same for the server's main thread alone: its event loop (each worker's, summed)."""
    server_queued: float
    """How long those event loops waited, ready, for a CPU, as a share of the run's time."""
    client_cpu: float
    """This process's CPU time, as a share of one core."""
    server_cpu_ms: float
    """The server's CPU time per notice, in milliseconds."""
    by_process: dict[str, float]
    """Each of the server's processes' CPU time, as a share of one core, by its label."""
    senders_on: Counter[str]
    """How many of the senders' connections each server process held."""
    sockets_on: Counter[str]
    """How many of the sockets (ana's and the acknowledgers') each server process held."""
    postgres_cpu: float | None
    """PostgreSQL's CPU time over the run, as a share of one core (``None``: not here)."""
    postgres_cpu_ms: float | None
    """PostgreSQL's CPU time per notice, in milliseconds."""

    @property
    def per_second(self) -> float:
        """Notices delivered and acknowledged per second."""
        return self.notices / self.seconds


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User plus system CPU time of a process (or one of its threads) from /proc."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> tuple[int, int]:
    """Resident memory now and at its peak (``VmRSS``, ``VmHWM``), in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def filesystem_of(path: Path) -> str:
    """The type of the file system holding ``path``, from /proc/mounts."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


# -- a server's processes, and PostgreSQL's ------------------------------------------------


def command_line(pid: int) -> str:
    """How process ``pid`` was started (empty if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def process_labels(server: Server) -> dict[int, str]:
    """Each process of ``server`` by what it is, the server's own first.

    ``server`` when it runs alone; with ``HOTLINE_WORKERS`` above one, ``supervisor``,
    ``worker 1`` ... (by process id) and multiprocessing's ``resource tracker``.
    """
    root, *others = server.processes()
    workers = [pid for pid in others if "multiprocessing.spawn" in command_line(pid)]
    labels = {root: "supervisor" if workers else "server"}
    labels |= {pid: f"worker {number}" for number, pid in enumerate(sorted(workers), 1)}
    for pid in others:
        tracker = "resource_tracker" in command_line(pid)
        labels.setdefault(pid, "resource tracker" if tracker else f"process {pid}")
    return labels


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU time a server's processes used over some span, in seconds."""

    by_process: dict[str, float]
    """Each process's, all its threads, by its label (``process_labels``)."""
    loops: float
    """The main threads of the processes that serve (the server, or each worker): their
    event loops."""
    queued: float
    """How long those threads, ready to run, waited for a CPU (the scheduler's run delay):
    the time a busy machine takes from them."""

    @property
    def total(self) -> float:
        """Every process's, summed."""
        return sum(self.by_process.values())


class CpuMeter:
    """The CPU time a server's processes use from now on: one process, or a supervisor and
    its workers (each worker's is its own; a process counts only its children's time once
    they exit, so it is read process by process)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.labels = process_labels(server)
        self.serving = [
            pid for pid, label in self.labels.items() if label == "server" or "worker" in label
        ]
        self.before = self._read()

    def _read(self) -> dict[int, tuple[float, float, float]]:
        read = {}
        for pid in self.labels:
            with contextlib.suppress(OSError):  # a process that exited counts for nothing
                read[pid] = cpu_seconds(pid), cpu_seconds(pid, pid), run_delay(pid)
        return read

    def used(self) -> Usage:
        """What was used since the meter was made."""
        after = self._read()
        if set(self.server.processes()) != set(self.labels):
            print("(the server's processes changed meanwhile: a worker restarted? its log says)")
        zero = (0.0, 0.0, 0.0)
        by_process = {
            label: after.get(pid, zero)[0] - self.before.get(pid, zero)[0]
            for pid, label in self.labels.items()
        }
        both = [pid for pid in self.serving if pid in after and pid in self.before]
        loops = sum(after[pid][1] - self.before[pid][1] for pid in both)
        queued = sum(after[pid][2] - self.before[pid][2] for pid in both)
        return Usage(by_process, loops, queued)


def run_delay(pid: int) -> float:
    """Seconds the main thread of process ``pid`` has waited, ready, for a CPU (schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def holders(server: Server, labels: dict[int, str]) -> dict[int, str]:
    """Which of the server's processes holds each connection to it, by the client's port.

    With several workers the kernel hands each new connection to whichever accepts first:
    this says where each one went. /proc/net/tcp gives each established connection's
    socket (its inode) and ports; /proc/PID/fd, which process has that socket open.
    """
    port = int(server.url.rsplit(":", 1)[1])
    clients: dict[str, int] = {}  # "socket:[inode]" -> the client's port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                _, local, remote, state, *_, inode = line.split()[:10]
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:  # established
                    clients[f"socket:[{inode}]"] = int(remote.rsplit(":", 1)[1], 16)
    held = {}
    for pid, label in labels.items():
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target in clients:
                        held[clients[target]] = label
    return held


def client_port(response: httpx.Response) -> int:
    """The local port of the connection ``response`` came on."""
    address: tuple[str, int] = response.extensions["network_stream"].get_extra_info("client_addr")
    return address[1]


def socket_port(subscriber: Subscriber) -> int:
    """The local port of a subscriber's socket."""
    address: tuple[str, int] = subscriber.websocket.local_address
    return address[1]


def stat_seconds(pid: int, *, children: bool = False) -> float:
    """A process's user and system time from /proc; with ``children``, that of its children
    that exited and were waited for, too."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class PostgresCpu:
    """The CPU time of a PostgreSQL server that runs on this machine: every process of it.

    Its postmaster, and each backend (one a connection), the WAL writer and the other
    helpers it started; a backend that exits leaves its time to the postmaster's children's
    time. It is the whole server's: anything else using it meanwhile counts too.
    """

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster

    @classmethod
    def find(cls, url: str) -> PostgresCpu | None:
        """The server behind ``url`` if its processes are this machine's, else ``None``."""

        async def backend() -> int:
            connection = await asyncpg.connect(plain_url(url), timeout=STEP)
            try:
                pid: int = await connection.fetchval("SELECT pg_backend_pid()")
                return parent_of(pid)  # read while the connection keeps it alive
            finally:
                await connection.close()

        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = run(backend())
            if Path(f"/proc/{postmaster}/comm").read_text().strip() in {"postgres", "postmaster"}:
                return cls(postmaster)
        return None

    def seconds(self) -> float:
        """Its CPU time so far, in seconds."""
        total = stat_seconds(self.postmaster, children=True)
        for pid in descendants(self.postmaster)[1:]:
            with contextlib.suppress(OSError):  # it exited: its time is the postmaster's now
                total += stat_seconds(pid)
        return total


def parent_of(pid: int) -> int:
    """Process ``pid``'s parent, from /proc."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# -- the machine's floors -----------------------------------------------------------------


def commit_floor(directory: Path, count: int) -> Spread:
    """``count`` one-row inserts, each committed durably (WAL, ``synchronous=FULL``)."""
    connection = sqlite3.connect(directory / "floor.db")
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE row (id TEXT PRIMARY KEY, body TEXT)")
        connection.commit()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            connection.execute("INSERT INTO row VALUES (?, ?)", (str(uuid.uuid4()), BODY * 3))
            connection.commit()
            times.append(time.perf_counter() - started)
    finally:
        connection.close()
    return Spread.of(times)


def echo_server(pipe: Connection) -> None:
    """A bare python-websockets echo server on 127.0.0.1 (the target of a child process).

    It runs on asyncio's own event loop, as the Hotline server does (``server.serve``
    starts uvicorn inside ``asyncio.run``).
    """

    async def echo(websocket: ServerConnection) -> None:
        async for message in websocket:
            await websocket.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            pipe.send(server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told

    asyncio.run(main())


async def echo_floor(url: str, count: int, *, deflate: bool) -> Spread:
    """``count`` round trips of an event-sized JSON message through the echo server."""
    notice = {"notice": str(uuid.uuid4()), "subject": "Water main renewal", "body": BODY}
    message = json.dumps({"type": "event", "event": {"seq": 1, "data": notice}})
    message += " " * max(0, ECHO_BYTES - len(message))
    times = []
    compression = "deflate" if deflate else None
    async with connect(
        url, open_timeout=STEP, ping_interval=None, compression=compression
    ) as websocket:
        for _ in range(count):
            started = time.perf_counter()
            await websocket.send(message)
            async with asyncio.timeout(STEP):
                await websocket.recv()
            times.append(time.perf_counter() - started)
    return Spread.of(times)


@contextlib.contextmanager
def child(target: Callable[..., None], *args: Any) -> Iterator[tuple[Connection, int]]:
    """Run ``target(*args, pipe)`` in a fresh process; yield our end of the pipe and its PID."""
    context = multiprocessing.get_context("spawn")  # no inherited loop, threads or memory
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    try:
        assert process.pid is not None
        yield ours, process.pid
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(STEP * 3)
        if process.is_alive():
            process.kill()
            process.join()


def wait_for(pipe: Connection, timeout: float) -> Any:
    """The next thing the child sends; SystemExit after ``timeout`` s or if it failed."""
    if not pipe.poll(timeout):
        raise SystemExit(f"a child process said nothing within {timeout:g} s")
    said = pipe.recv()
    if isinstance(said, dict) and "error" in said:
        raise SystemExit(f"a child process failed: {said['error']}")
    return said


# -- databases ----------------------------------------------------------------------------


def kind_of(postgres: str | None) -> str:
    """``postgresql`` with ``--database-url``, else ``sqlite``: the key of ``TARGETS``."""
    return "sqlite" if postgres is None else "postgresql"


async def pg_execute(url: str, *statements: str) -> list[str]:
    """Run statements on a PostgreSQL server, each on its own; the first column of each."""
    connection = await asyncpg.connect(url, timeout=STEP)
    try:
        return [str(await connection.fetchval(statement)) for statement in statements]
    finally:
        await connection.close()


def plain_url(url: str, database: str | None = None) -> str:
    """A PostgreSQL URL with no driver named, as asyncpg and the server take it, password kept.

    With ``database``, the URL of that database on the same server.
    """
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(postgres: str | None, directory: Path) -> Iterator[str]:
    """The URL of an empty database, and ``directory`` made for a server's files.

    A SQLite file in ``directory``; or, given a PostgreSQL server's URL, a new database on
    it (as ``tests/conftest.py`` makes them), dropped when the block ends.
    """
    directory.mkdir(parents=True)
    if postgres is None:
        yield f"sqlite:///{directory / 'hotline.db'}"
        return
    name = f"hotline_bench_{uuid.uuid4().hex[:12]}"
    run(pg_execute(plain_url(postgres), f'CREATE DATABASE "{name}"'))
    try:
        yield plain_url(postgres, database=name)
    finally:
        run(pg_execute(plain_url(postgres), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def describe_database(postgres: str | None, directory: Path) -> str:
    """The database the servers run on, with what makes its commits durable."""
    if postgres is None:
        where = f"{filesystem_of(directory)} at {directory}"
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL), {where}"
    version, fsync, synchronous, method = run(
        pg_execute(
            plain_url(postgres),
            "SHOW server_version",
            "SHOW fsync",
            "SHOW synchronous_commit",
            "SHOW wal_sync_method",
        )
    )
    where = make_url(postgres).render_as_string(hide_password=True)
    return (
        f"PostgreSQL {version.split()[0]} at {where} (fsync {fsync}, synchronous_commit "
        f"{synchronous}, wal_sync_method {method})"
    )


async def postgres_commit_floor(url: str, count: int) -> Spread:
    """``count`` one-row inserts over asyncpg, each a transaction of its own, committed.

    One round trip each, prepared once: the least a durable commit costs a client of this
    PostgreSQL server, its WAL flushed before the answer (with ``synchronous_commit=on``).
    """
    connection = await asyncpg.connect(url, timeout=STEP)
    try:
        await connection.execute("CREATE TABLE floor_row (id TEXT PRIMARY KEY, body TEXT)")
        insert = await connection.prepare("INSERT INTO floor_row VALUES ($1, $2)")
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await insert.fetch(str(uuid.uuid4()), BODY * 3)
            times.append(time.perf_counter() - started)
    finally:
        await connection.close()
    return Spread.of(times)


# -- the code each server runs ------------------------------------------------------------


def ensure_worktree(path: Path) -> None:
    """Make ``path`` a git worktree of ``BEFORE`` unless it holds a tree with ``server/``."""
    if (path / "server").is_dir():
        return
    if path.exists():
        raise SystemExit(f"--before {path}: it exists but holds no server/ package")
    command = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), BEFORE]
    print(f"making the worktree of the code before: {' '.join(command)}")
    subprocess.run(command, check=True, timeout=120, stdout=subprocess.DEVNULL)


def describe_tree(tree: Path) -> str:
    """The commit ``tree`` is at, whether it has changes not committed, and its server package."""

    def git(*args: str) -> str:
        found = subprocess.run(
            ["git", "-C", str(tree), *args], capture_output=True, text=True, check=True, timeout=30
        )
        return found.stdout.strip()

    try:
        head = git("log", "-1", "--format=%h %s")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        head, changed = "not a git tree", ""
    note = " (with changes not committed)" if changed else ""
    head = head if len(head) <= 60 else head[:59] + "…"
    return f"{head}{note}\n  runs {code_of(tree)}"


# -- sockets ------------------------------------------------------------------------------

Reaction = Callable[[Json, float], str | None]
"""Called with each event and when it arrived; may return a message to send back."""


class Subscriber:
    """A socket that said hello and subscribed; hands each event to ``react``.

    What ``react`` returns is sent as a command, with at most ``WINDOW`` commands awaiting
    their ``result`` at a time. The server handles a socket's commands one after another
    and reads nothing else from it meanwhile, pongs included; a client that piled up
    commands would be closed for missing its pongs (1011) once they took long enough.
    """

    def __init__(self, websocket: ClientConnection, react: Reaction) -> None:
        self.websocket = websocket
        self.react = react
        self.errors: list[Json] = []
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.in_flight = asyncio.Semaphore(WINDOW)
        self.reader = asyncio.create_task(self._read(), name="subscriber-read")
        self.writer = asyncio.create_task(self._write(), name="subscriber-write")

    @classmethod
    async def open(
        cls,
        server: Server,
        token: str,
        *,
        after: int | Mapping[str, int],
        react: Reaction,
        deflate: bool,
    ) -> Subscriber:
        """Connect, say hello, subscribe to the demo channel after ``after``.

        Or, given channels and where to start on each, subscribe to each of them.
        """
        websocket = await connect(
            ws_url(server),
            open_timeout=STEP,
            ping_interval=None,
            compression="deflate" if deflate else None,
        )
        starts = {server.channel: after} if isinstance(after, int) else dict(after)
        (channel, first), *more = starts.items()
        await handshake(websocket, token, channel, first)
        for channel, start in more:
            await subscribe(websocket, channel, start)
        return cls(websocket, react)

    async def _read(self) -> None:
        async for text in self.websocket:
            arrived = time.perf_counter()
            message = json.loads(text)
            match message["type"]:
                case "event":
                    command = self.react(message["event"], arrived)
                    if command is not None:
                        self.outbox.put_nowait(command)
                case "result":
                    self.in_flight.release()
                case "error":
                    self.in_flight.release()
                    self.errors.append(message)

    async def _write(self) -> None:
        while True:
            command = await self.outbox.get()
            await self.in_flight.acquire()
            await self.websocket.send(command)

    async def close(self) -> None:
        """Stop, close the socket, and fail if the server refused anything or hung up."""
        self.writer.cancel()
        closed_early = self.reader.done()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await self.reader
        await self.websocket.close()
        if closed_early:
            code, reason = self.websocket.close_code, self.websocket.close_reason
            raise SystemExit(f"the server closed a socket early: {code} {reason}")
        if self.errors:
            raise SystemExit(f"the server refused a command: {self.errors[0]}")


def ws_url(server: Server) -> str:
    """The WebSocket endpoint of ``server``."""
    return server.url.replace("http://", "ws://", 1) + WS_PATH


async def handshake(
    websocket: ClientConnection, token: str, channel: str, after: int, *, within: float = STEP
) -> None:
    """Say hello and subscribe; return once ``subscribed`` has come, or fail after ``within``."""
    async with asyncio.timeout(within):
        await websocket.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await websocket.recv())
        if welcome["type"] != "welcome":
            raise SystemExit(f"hello was answered with {welcome}")
        await subscribe(websocket, channel, after)


async def subscribe(websocket: ClientConnection, channel: str, after: int) -> None:
    """Subscribe a socket that said hello; return once ``subscribed`` has come.

    Whatever comes before it is dropped: presence messages, as a rule (nothing is sent
    on the channels while a benchmark's sockets subscribe).
    """
    await websocket.send(json.dumps({"type": "subscribe", "channel": channel, "after": after}))
    while json.loads(await websocket.recv())["type"] != "subscribed":
        pass


class Acknowledger:
    """The roads side: acknowledges its share of the notices as their ``notice.sent`` comes.

    Those on ``channel``; with ``None``, on whichever channel each came.
    """

    def __init__(self, channel: str | None, share: int = 0, of: int = 1) -> None:
        self.channel = channel
        self.share = share
        self.of = of
        self.seen: dict[str, float] = {}

    def __call__(self, event: Json, arrived: float) -> str | None:
        if event["type"] != "notice.sent" or event["actor"]["party"] != "water":
            return None
        if self.channel is not None and event["channel"] != self.channel:
            return None
        notice = event["data"]["notice"]
        if uuid.UUID(notice).int % self.of != self.share:
            return None
        self.seen[notice] = arrived
        return json.dumps(
            {
                "type": "decide",
                "ref": notice,
                "channel": event["channel"],
                "notice": notice,
                "decision": "acknowledged",
            }
        )


class Watcher:
    """The water side's socket: notes when each notice's acknowledgement arrives."""

    def __init__(self) -> None:
        self.acknowledged: dict[str, float] = {}
        self.expected = 0
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.all_in = asyncio.Event()

    def __call__(self, event: Json, arrived: float) -> None:
        if event["type"] != "notice.acknowledged":
            return
        notice = event["data"]["notice"]
        self.acknowledged[notice] = arrived
        waiting = self.waiting.pop(notice, None)
        if waiting is not None:
            waiting.set_result(arrived)
        if len(self.acknowledged) >= self.expected:
            self.all_in.set()


async def head_of(http: httpx.AsyncClient, server: Server, channel: str | None = None) -> int:
    """The demo channel's last sequence number, or ``channel``'s."""
    answer = await http.get(
        f"/api/v1/channels/{channel or server.channel}", headers=bearer(server.tokens["ana"])
    )
    answer.raise_for_status()
    head: int = answer.json()["head"]
    return head


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def post_notice(
    http: httpx.AsyncClient, server: Server, token: str, notice: str, channel: str | None = None
) -> None:
    """Send one notice without an activity window on the demo channel (or ``channel``);
    anything but 201 stops the benchmark."""
    body = {"id": notice, "subject": "Water main renewal, Mill Lane", "body": BODY}
    answer = await http.post(
        f"/api/v1/channels/{channel or server.channel}/notices", headers=bearer(token), json=body
    )
    if answer.status_code != 201:
        raise SystemExit(f"send answered {answer.status_code}: {answer.text}")


# -- (a) the full loop, one notice at a time ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Loop:
    """One run of the loop: the whole and its legs."""

    whole: Spread
    post: Spread
    """From just before the POST to its answer."""
    to_receiver: Spread
    """From just before the POST to carla's socket having ``notice.sent``."""
    back: Spread
    """From carla's socket having ``notice.sent`` to ana's having ``notice.acknowledged``."""
    server_cpu_ms: float
    """The server's CPU time per loop (all its threads and processes), in milliseconds."""
    loop_cpu_ms: float
    """The same for the server's main thread alone: its event loop (each worker's, summed)."""
    samples: tuple[float, ...]
    """Every loop's time, in seconds, for figures over all runs."""
    placement: dict[str, str]
    """Which server process held ana's REST connection (``POST``), her socket (``ana``)
    and carla's (``carla``)."""


async def full_loop(server: Server, loops: int, *, deflate: bool) -> Loop:
    """Time ``loops`` notices, each sent, received, acknowledged and seen acknowledged."""
    watcher, acknowledger = Watcher(), Acknowledger(server.channel)
    whole, post, to_receiver, back = [], [], [], []
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        head = await head_of(http, server)
        ana = await Subscriber.open(
            server, server.tokens["ana"], after=head, react=watcher, deflate=deflate
        )
        carla = await Subscriber.open(
            server, server.tokens["carla"], after=head, react=acknowledger, deflate=deflate
        )
        ports = {"POST": client_port(await http.get("/healthz"))}
        ports |= {"ana": socket_port(ana), "carla": socket_port(carla)}
        meter = CpuMeter(server)
        held = holders(server, meter.labels)
        placement = {name: held.get(port, "?") for name, port in ports.items()}
        try:
            for _ in range(loops):
                notice = str(uuid.uuid4())
                seen = watcher.waiting[notice] = asyncio.get_running_loop().create_future()
                started = time.perf_counter()
                await post_notice(http, server, server.tokens["ana"], notice)
                answered = time.perf_counter()
                async with asyncio.timeout(STEP):
                    acknowledged = await seen
                whole.append(acknowledged - started)
                post.append(answered - started)
                to_receiver.append(acknowledger.seen[notice] - started)
                back.append(acknowledged - acknowledger.seen[notice])
            used = meter.used()
        finally:
            await ana.close()
            await carla.close()
    return Loop(
        whole=Spread.of(whole),
        post=Spread.of(post),
        to_receiver=Spread.of(to_receiver),
        back=Spread.of(back),
        server_cpu_ms=1000 * used.total / loops,
        loop_cpu_ms=1000 * used.loops / loops,
        samples=tuple(whole),
        placement=placement,
    )


# -- (b) one REST send at a time ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sends:
    """One send part: sends one after another, and ``GET /healthz`` between them."""

    send: Spread
    health: Spread
    samples: tuple[float, ...]
    """Every send's time, in seconds, for figures over all runs."""
    health_samples: tuple[float, ...]


def rest_sends(server: Server, count: int) -> Sends:
    """``count`` sends by ana over one keep-alive connection, each followed by ``/healthz``.

    The same requests, client and interleaving as ``bench_send.py``'s send and HTTP floor
    (without its commit floor, which the floors above time), after ``SEND_WARMUP`` untimed
    ones on the new connection.
    """
    with httpx.Client(base_url=server.url, timeout=STEP) as client:
        operations = {"send": sender(client, server), "health": health(client)}
        times: dict[str, list[float]] = {label: [] for label in operations}
        for number in range(SEND_WARMUP + count):
            for label, operation in operations.items():
                started = time.perf_counter()
                operation()
                if number >= SEND_WARMUP:
                    times[label].append(time.perf_counter() - started)
    return Sends(
        send=Spread.of(times["send"]),
        health=Spread.of(times["health"]),
        samples=tuple(times["send"]),
        health_samples=tuple(times["health"]),
    )


# -- (c) throughput under many senders ----------------------------------------------------


async def throughput(
    server: Server,
    *,
    clients: int,
    notices: int,
    consumers: int,
    deflate: bool,
    postgres: PostgresCpu | None = None,
    channels: Sequence[str] = (),
) -> Flow:
    """``clients`` senders send ``notices`` in all; ``consumers`` sockets acknowledge them.

    On the demo channel, or with ``channels`` on those, sender ``n`` on the ``n``-th of
    them (round the list), every socket subscribed to all of them. With ``postgres``, that
    server's CPU time over the run is measured too.
    """
    channels = list(channels) or [server.channel]
    watcher = Watcher()
    watcher.expected = notices
    acknowledgers = [Acknowledger(None, share, consumers) for share in range(consumers)]
    sent_at: dict[str, float] = {}
    sent_on: dict[str, set[str]] = {channel: set() for channel in channels}
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        heads = {channel: await head_of(http, server, channel) for channel in channels}
        ana = await Subscriber.open(
            server, server.tokens["ana"], after=heads, react=watcher, deflate=deflate
        )
        roads = [
            await Subscriber.open(
                server,
                server.tokens[("carla", "dev")[i % 2]],
                after=heads,
                react=a,
                deflate=deflate,
            )
            for i, a in enumerate(acknowledgers)
        ]

        quotas = [notices // clients + (i < notices % clients) for i in range(clients)]
        quotas = [q for q in quotas if q]
        connected = asyncio.Barrier(len(quotas) + 1)
        go = asyncio.Event()
        ports: list[int] = []
        # One connection at a time, as clients arriving over time would: with several
        # workers, a burst of connections tends to be accepted by whichever wakes first.
        connecting = asyncio.Lock()

        async def sender(number: int, count: int) -> None:
            token = server.tokens[("ana", "ben")[number % 2]]
            channel = channels[number % len(channels)]
            limits = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(
                base_url=server.url, timeout=BUSY_STEP, limits=limits
            ) as own:
                async with connecting:  # connected before the clock starts
                    ports.append(client_port(await own.get("/healthz")))
                await connected.wait()
                await go.wait()
                for _ in range(count):
                    notice = str(uuid.uuid4())
                    sent_at[notice] = time.perf_counter()
                    sent_on[channel].add(notice)
                    await post_notice(own, server, token, notice, channel)

        tasks = [asyncio.create_task(sender(i, q)) for i, q in enumerate(quotas)]
        async with asyncio.timeout(STEP * 3):
            await connected.wait()
        meter = CpuMeter(server)
        held = holders(server, meter.labels)
        senders_on = Counter(held.get(port, "?") for port in ports)
        sockets_on = Counter(held.get(socket_port(s), "?") for s in (ana, *roads))
        cpu = (time.process_time(), None if postgres is None else postgres.seconds())
        started = time.perf_counter()
        go.set()
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                await asyncio.gather(*tasks)
                sends_done = time.perf_counter()
                all_in = asyncio.create_task(watcher.all_in.wait())
                readers = {socket.reader for socket in (ana, *roads)}
                await asyncio.wait({all_in, *readers}, return_when=asyncio.FIRST_COMPLETED)
                all_in.cancel()  # if a socket closed first, closing it below says why
        finally:
            for task in tasks:
                task.cancel()
            spent = time.perf_counter() - started
            used = meter.used()
            client = time.process_time() - cpu[0]
            database = None if postgres is None or cpu[1] is None else postgres.seconds() - cpu[1]
            for socket in (ana, *roads):
                await socket.close()
        for channel in channels:
            await check_log(http, server, heads[channel], sent_on[channel], channel)
    finished = max(watcher.acknowledged.values())
    latencies = [watcher.acknowledged[n] - sent_at[n] for n in sent_at]
    return Flow(
        notices=notices,
        channels=len(channels),
        seconds=finished - started,
        sends_seconds=sends_done - started,
        latency=Spread.of(latencies),
        server_cpu=used.total / spent,
        server_loop_cpu=used.loops / spent,
        server_queued=used.queued / spent,
        client_cpu=client / spent,
        server_cpu_ms=1000 * used.total / notices,
        by_process={label: seconds / spent for label, seconds in used.by_process.items()},
        senders_on=senders_on,
        sockets_on=sockets_on,
        postgres_cpu=None if database is None else database / spent,
        postgres_cpu_ms=None if database is None else 1000 * database / notices,
    )


LIFE = ["notice.sent", "notice.received", "notice.acknowledged"]
"""The events each notice of the throughput part leaves in the log, in this order."""


async def check_log(
    http: httpx.AsyncClient, server: Server, head: int, sent: set[str], channel: str | None = None
) -> None:
    """Fail unless the log after ``head`` holds exactly ``LIFE`` for each notice ``sent``.

    The demo channel's log, or ``channel``'s.

    Read back over REST in pages: sequence numbers with no gap, nothing else in between,
    and the log's head just after the last of them.
    """
    last = head + len(LIFE) * len(sent)
    seen: dict[str, list[str]] = {}
    after, page_head = head, head
    for _ in range(len(LIFE) * len(sent) // PAGE + 2):  # one more page than needed, at most
        answer = await http.get(
            f"/api/v1/channels/{channel or server.channel}/events",
            params={"after": after, "limit": PAGE},
            headers=bearer(server.tokens["ana"]),
        )
        answer.raise_for_status()
        page = answer.json()
        page_head = page["head"]
        for event in page["events"]:
            if event["seq"] != after + 1:
                raise SystemExit(f"the log jumps from {after} to {event['seq']}")
            after = event["seq"]
            seen.setdefault(event["data"].get("notice", "none"), []).append(event["type"])
        if not page["events"] or after >= page_head:
            break
    if page_head != last or after != last:
        raise SystemExit(f"the log grew to {page_head}, not to {last}: three events a notice")
    wrong = [notice for notice in sent if seen.get(notice) != LIFE]
    if wrong or seen.keys() != sent:
        raise SystemExit(f"the log does not hold exactly {LIFE} for each notice: {wrong[:3]}")


# -- (d) idle sockets ---------------------------------------------------------------------


def hold_sockets(
    url: str,
    tokens: list[str],
    channels: list[str],
    count: int,
    deflate: bool,
    pipe: Connection,
) -> None:
    """Open ``count`` sockets, hello and subscribe on each if ``tokens``, hold until told.

    Socket ``n`` uses ``tokens[n % len(tokens)]`` and ``channels[n % len(channels)]``. The
    target of a child process, so that its memory is neither the server's nor ours. Sends
    what it saw, as plain dicts, once all are open and again once told to close them.
    """

    async def main() -> None:
        gate = asyncio.Semaphore(IDLE_CONCURRENCY)
        sockets: list[ClientConnection] = []
        drainers: list[asyncio.Task[None]] = []
        took: list[float] = []
        messages = 0
        codes: Counter[str] = Counter()

        async def drain(websocket: ClientConnection) -> None:
            nonlocal messages
            with contextlib.suppress(ConnectionClosed):
                async for _ in websocket:
                    messages += 1
            if websocket.close_code != 1000:
                codes[str(websocket.close_code)] += 1

        async def open_one(number: int) -> None:
            async with gate:
                started = time.perf_counter()
                websocket = await connect(
                    url,
                    open_timeout=STEP,
                    ping_interval=None,
                    compression="deflate" if deflate else None,
                )
                if tokens:
                    token, channel = tokens[number % len(tokens)], channels[number % len(channels)]
                    await handshake(websocket, token, channel, 0, within=PHASE_TIMEOUT)
                took.append(time.perf_counter() - started)
                sockets.append(websocket)
                drainers.append(asyncio.create_task(drain(websocket)))

        started = time.perf_counter()
        async with asyncio.timeout(PHASE_TIMEOUT):
            await asyncio.gather(*(open_one(n) for n in range(count)))
        spread = Spread.of(took)
        pipe.send(
            {
                "opened": len(sockets),
                "seconds": time.perf_counter() - started,
                "median_ms": spread.median,
                "p99_ms": spread.p99,
            }
        )
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        still_open = sum(1 for task in drainers if not task.done())
        async with asyncio.timeout(PHASE_TIMEOUT):
            for start in range(0, len(sockets), IDLE_CONCURRENCY):
                batch = sockets[start : start + IDLE_CONCURRENCY]
                await asyncio.gather(*(s.close() for s in batch))
            await asyncio.gather(*drainers)
        pipe.send({"still_open": still_open, "messages": messages, "closes": dict(codes)})

    try:
        run(main())
    except Exception as exc:  # the parent reports it; a traceback here would be lost
        pipe.send({"error": repr(exc)})


@dataclass(frozen=True, slots=True)
class Idle:
    """What holding idle sockets cost a server process."""

    sockets: int
    channels: int
    opened: dict[str, float]
    """Seconds to open them all, and the median and p99 milliseconds to open one."""
    before_kib: int
    after_kib: int
    peak_kib: int
    held: dict[str, Any]
    """How many were still open when counted, messages received, close codes seen."""

    @property
    def mib(self) -> float:
        """Growth of resident memory, in MiB."""
        return (self.after_kib - self.before_kib) / 1024

    @property
    def kib_each(self) -> float:
        """Growth per socket, in KiB."""
        return (self.after_kib - self.before_kib) / self.sockets


def settle(pid: int, *, quiet: float = 0.05, within: float = PHASE_TIMEOUT) -> None:
    """Wait until process ``pid`` uses less than ``quiet`` of a core over half a second."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < quiet * 0.5:
            return
    raise SystemExit(f"process {pid} stayed busy for {within:g} s")


def hold_idle(
    pid: int, url: str, tokens: list[str], channels: list[str], count: int, *, deflate: bool
) -> Idle:
    """RSS of process ``pid`` before and after a child opens ``count`` sockets to ``url``."""
    settle(pid)
    before, _ = rss_kib(pid)
    with child(hold_sockets, url, tokens, channels, count, deflate) as (pipe, _):
        opened = wait_for(pipe, PHASE_TIMEOUT + STEP)
        settle(pid)  # every handshake and presence message sent
        after, peak = rss_kib(pid)
        pipe.send("close")
        held = wait_for(pipe, PHASE_TIMEOUT + STEP)
    if opened["opened"] != count:
        raise SystemExit(f"only {opened['opened']} of {count} sockets opened")
    return Idle(count, len(channels), opened, before, after, peak, held)


async def prepare_channels(database_url: str, count: int, prefix: str = "idle") -> list[str]:
    """Make the demo (as the server would) and ``count`` more channels between its parties,
    ``idle-0``, ``idle-1`` ... (or ``prefix``).

    Done before the server starts, so that it finds them as it would any channel it did not
    make itself.
    """
    db = Database(database_url)
    names = [f"{prefix}-{number}" for number in range(count)]
    try:
        await upgrade(db)
        await demo.seed(db)
        for name in names:
            await admin.create_channel(db, name, parties=("water", "roads"))
    finally:
        await db.dispose()
    return names


# -- profiling ----------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy executable: on PATH, or beside this Python (a virtual environment's)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextlib.contextmanager
def sampled(pid: int, output: Path | None, rate: int = PROFILE_RATE) -> Iterator[None]:
    """Sample every thread of ``pid`` with py-spy into ``output`` while the block runs.

    Native frames and idle samples are kept, so that each thread's wall time can be split
    into waiting, sleeping on SQLite's lock, fsync and running code (see ``category``).
    py-spy pauses the process for each sample, which slows it down: a profiled run's
    figures are not the benchmark's.
    """
    if output is None:
        yield
        return
    program = py_spy()
    assert program is not None, "main() checks that py-spy is installed"
    command = [program, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    command += ["--threads", "--idle", "--native", "--output", str(output)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(STEP * 3)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    print_profile(output)


LAYERS = (
    ("SQLAlchemy + aiosqlite (statements, ORM, greenlet bridge)", ("sqlalchemy", "(aiosqlite/")),
    ("permessage-deflate", ("permessage_deflate",)),
    ("logging", ("(logging/",)),
    ("Pydantic (validation, JSON)", ("(pydantic/",)),
    ("FastAPI + Starlette (routing, dependencies)", ("(fastapi/", "(starlette/")),
    ("uvicorn + httptools + websockets (protocols)", ("(uvicorn/", "(httptools", "(websockets/")),
    ("Hotline's own code", ("(server/", "(client/")),
)
"""Who asked for a running sample's work: the innermost of these on the callback's stack."""
EVENT_LOOP_FRAMES = ("Handle._run ", "BaseEventLoop._run_once ", "BaseEventLoop.run_forever ")


def category(frames: list[str]) -> str:
    """What a thread was doing in one sample, from its stack (outermost frame first)."""
    stack = ";".join(frames)
    if "sqlite3InvokeBusyHandler" in stack:
        return "sleeping in SQLite's busy handler (waiting for the write lock)"
    if "fdatasync" in stack or "fsync" in stack:
        return "fsync"
    if "libsqlite3" in stack:
        return "in SQLite's C code"
    if "EpollSelector.select" in stack:
        return "waiting for I/O (epoll)"
    if any(wait in stack for wait in ("Queue.get", "Condition.wait", "epoll_wait")):
        return "waiting for work"
    python = [frame for frame in frames if ".py:" in frame]
    if python and python[-1].startswith("_connection_worker_thread"):
        return "waiting for work"  # aiosqlite's queue get is C code: no Python frame shows
    # Only the callback the event loop is running counts, not the frames that started it.
    loop = [n for n, frame in enumerate(frames) if frame.startswith(EVENT_LOOP_FRAMES)]
    for frame in reversed(frames[loop[-1] + 1 :] if loop else frames):
        for layer, markers in LAYERS:
            if any(marker in frame for marker in markers):
                return layer
    return "asyncio (the event loop itself)" if python else "other native code"


def thread_group(label: str) -> str:
    """``thread (123): Thread-4 (_connection_worker_thread)`` -> ``aiosqlite workers``."""
    name = label.partition(": ")[2] or label
    if "_connection_worker_thread" in name:
        return "aiosqlite workers"
    return "AnyIO workers" if name.startswith("AnyIO worker") else name


def waiting(kind: str) -> bool:
    """Whether a ``category`` is a thread waiting rather than running code."""
    return "wait" in kind or kind.startswith("sleeping")


def print_profile(path: Path, top: int = 10) -> None:
    """Per group of threads, what it was doing: as a share of its samples, and of its running.

    The second share is the one to read for the event loop: py-spy's idle detection is
    rough, so how busy the loop thread was is better read from its CPU time in /proc.

    Args:
        path: py-spy's raw output (collapsed stacks with thread labels and idle samples).
        top: how many categories and Python frames to print per group.
    """
    kinds: dict[str, Counter[str]] = {}
    leaves: dict[str, Counter[str]] = {}
    threads: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        label, *frames = stack.split(";")
        group = thread_group(label)
        threads.setdefault(group, set()).add(label)
        kind = category(frames)
        kinds.setdefault(group, Counter())[kind] += int(count)
        python = [frame for frame in frames if ".py:" in frame]
        if python and not waiting(kind) and kind != "fsync":
            leaves.setdefault(group, Counter())[python[-1]] += int(count)
    print(f"  py-spy, {path.name}: share of samples / share of running samples")
    for group, counts in sorted(kinds.items(), key=lambda kv: -kv[1].total()):
        total = counts.total()
        running = sum(n for kind, n in counts.items() if not waiting(kind)) or 1
        print(f"  {group} ({len(threads[group])} thread(s), {total} samples)")
        for kind, n in counts.most_common(top):
            share = "" if waiting(kind) else f" {100 * n / running:5.1f}%"
            print(f"    {100 * n / total:5.1f}%{share or ' ' * 7}  {kind}")
        if group == "MainThread":
            print("    busiest Python frames (innermost), share of running samples:")
            for frame, n in leaves.get(group, Counter()).most_common(top):
                print(f"    {100 * n / running:5.1f}%    {frame[:96]}")
    print()


# -- main ---------------------------------------------------------------------------------


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a client coroutine on uvloop, if installed, to keep the client's CPU low."""
    try:
        import uvloop  # optional, installed with uvicorn[standard]

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def header(title: str) -> str:
    """A table's first line: its title, then the names of the columns."""
    return f"{title:<48}{'median':>9} {'p99':>8}"


def row(label: str, figures: object) -> str:
    """A line of a table: a label, then figures (a ``Spread`` or text)."""
    return f"  {label:<46}{figures}"


def verdict(ok: bool) -> str:
    """``met`` or ``missed``."""
    return "met" if ok else "MISSED"


def names(text: str) -> tuple[str, ...]:
    """``--parts``: some of ``PARTS``, separated by commas."""
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in PARTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"name some of {','.join(PARTS)}, not {text!r}")
    return chosen


def counts(text: str) -> tuple[int, ...]:
    """``--workers``: worker counts from 1 to 64, separated by commas, each once."""
    try:
        chosen = tuple(int(count) for count in text.split(","))
    except ValueError:
        chosen = ()
    if not chosen or len(set(chosen)) != len(chosen) or not all(1 <= n <= 64 for n in chosen):
        raise argparse.ArgumentTypeError(f"worker counts such as 1,2,4, not {text!r}")
    return chosen


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, checked; ``parts`` filled in when not given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of loop, send, throughput (5)")
    parser.add_argument("--loops", type=int, default=300, help="loops timed per run (300)")
    parser.add_argument("--sends", type=int, default=300, help="REST sends timed per run (300)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent senders (64)")
    parser.add_argument("--consumers", type=int, default=8, help="acknowledging sockets (8)")
    parser.add_argument("--notices", type=int, default=3000, help="notices per run (3000)")
    parser.add_argument("--idle", type=int, default=5000, help="idle sockets; 0 skips (5000)")
    parser.add_argument(
        "--idle-channels", type=int, default=50, help="channels the idle sockets spread over (50)"
    )
    parser.add_argument("--warmup", type=int, default=30, help="untimed loops first (30)")
    parser.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (postgresql://postgres@127.0.0.1/test): run on a fresh "
        "database there, dropped after, instead of a fresh SQLite file",
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help=f"a git worktree of the code before (made from {BEFORE} if missing): run each "
        "part on it and on this tree in turns, and compare",
    )
    parser.add_argument(
        "--after",
        type=Path,
        metavar="DIR",
        default=ROOT,
        help="the code to measure (and compare with --before's): this tree",
    )
    parser.add_argument("--profile", type=Path, help="sample the servers with py-spy into DIR")
    parser.add_argument(
        "--parts",
        type=names,
        metavar="LIST",
        help=f"the parts to run, of {','.join(PARTS)} (all; with --workers "
        f"{','.join(WORKER_PARTS)})",
    )
    parser.add_argument(
        "--channels",
        type=int,
        default=1,
        help="channels the throughput part's senders spread over (1: the demo's alone)",
    )
    parser.add_argument(
        "--workers",
        type=counts,
        metavar="LIST",
        help="worker counts, such as 1,2,4 (PostgreSQL): in each run, for each count in "
        "turn, the demo with HOTLINE_WORKERS at that count on a fresh database; a table "
        "compares them",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.loops < 2 or args.notices < 2 or args.clients < 1:
        parser.error("need --runs >= 1, --loops >= 2, --notices >= 2, --clients >= 1")
    if args.consumers < 1 or args.idle_channels < 1 or args.warmup < 0 or args.idle < 0:
        parser.error("need --consumers >= 1, --idle-channels >= 1, --warmup and --idle >= 0")
    if args.sends < 2:
        parser.error("need --sends >= 2")
    if not 1 <= args.channels <= args.clients:
        parser.error("need --channels from 1 to --clients: each channel needs its senders")
    if args.channels > 1 and args.before is not None:
        parser.error("--channels makes its channels with this tree's code: not with --before")
    if args.database_url is not None and not args.database_url.startswith("postgres"):
        parser.error("--database-url: a postgresql:// URL (SQLite is the default)")
    if args.profile is not None:
        if py_spy() is None:
            parser.error("--profile needs py-spy: pip install py-spy")
        args.profile.mkdir(parents=True, exist_ok=True)
    args.after = args.after.resolve()
    if not (args.after / "server").is_dir():
        parser.error(f"--after {args.after}: no server/ package there")
    if args.workers is not None:
        refusal = workers_refusal(args)
        if refusal is not None:
            parser.error(refusal)
    if args.parts is None:
        args.parts = PARTS if args.workers is None else WORKER_PARTS
    return args


def workers_refusal(args: argparse.Namespace) -> str | None:
    """Why ``--workers`` cannot go with the other arguments, or ``None``."""
    if args.database_url is None and max(args.workers) > 1:
        return "--workers above 1 needs --database-url: more than one worker needs PostgreSQL"
    if args.before is not None:
        return (
            "--workers compares worker counts on one tree, --before two trees with one "
            "worker each: run them apart"
        )
    if args.parts is not None and "idle" in args.parts:
        return "the idle part measures one server process's memory: not with --workers"
    return None


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure the floors, start the servers, measure, print."""
    args = parse(argv)
    if args.workers is not None:
        main_workers(args)
        return
    trees = {"this tree" if args.after == ROOT else "after": args.after}
    if args.before is not None:
        ensure_worktree(args.before)
        trees = {"before": args.before.resolve(), "after": args.after}

    with tempfile.TemporaryDirectory(prefix="hotline-live-") as tmp:
        directory = Path(tmp)
        describe(args, directory, trees)
        floors = measure_floors(directory, args) if "floors" in args.parts else None
        results = measure_runs(directory, args, trees)
        idle = measure_idle(directory, args) if args.idle and "idle" in args.parts else None
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    for label, result in results.items():
        summarise(label, args, floors, result, idle if label == list(results)[-1] else None)
    if args.before is not None:
        compare(args, results["before"], results["after"])


def describe(args: argparse.Namespace, directory: Path, trees: dict[str, Path]) -> None:
    """Print what runs where: Python and the CPU, the database, the code, the load."""
    print(f"python {platform.python_version()}, {cpu_model()}, {os.cpu_count()} cores")
    print(describe_database(args.database_url, directory))
    for label, tree in trees.items():
        print(f"{label}: {describe_tree(tree)}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    deflate = "none" if args.no_deflate else "permessage-deflate"
    print(f"load average {load}; WebSocket compression offered: {deflate}\n")


@dataclass(frozen=True, slots=True)
class Floors:
    """This machine's floors."""

    database: str
    """``SQLite`` or ``PostgreSQL``: whose commit ``commit`` times."""
    commit: Spread
    echo: Spread

    @property
    def loop(self) -> tuple[float, float]:
        """Two durable commits and three echo round trips: median and p99, in ms.

        The loop holds two commits (the send; the receipt and acknowledgement together) and
        four one-way socket trips (POST and its answer, the push to carla and her
        ``decide``, the push to ana): two round trips, and a third for HTTP's heavier one.
        """
        return (
            2 * self.commit.median + 3 * self.echo.median,
            2 * self.commit.p99 + 3 * self.echo.p99,
        )

    @property
    def ceiling(self) -> float:
        """Notices per second if two commits each, one after another, were all it took."""
        return 1000 / (2 * self.commit.median)


def measure_floors(directory: Path, args: argparse.Namespace) -> Floors:
    """A durable commit and a bare WebSocket round trip, ``--loops`` of each."""
    count, deflate = args.loops, not args.no_deflate
    if args.database_url is None:
        database, commit = "SQLite", commit_floor(directory, count)
    else:
        with fresh_database(args.database_url, directory / "floor") as url:
            database, commit = "PostgreSQL", run(postgres_commit_floor(url, count))
    with child(echo_server) as (pipe, _):
        port = wait_for(pipe, STEP * 3)
        echo = run(echo_floor(f"ws://127.0.0.1:{port}", count, deflate=deflate))
    floors = Floors(database, commit, echo)
    print(header(f"floors, {count} of each"))
    print(row(f"durable {database} commit (ms)", commit))
    print(row("WebSocket echo round trip (ms)", echo))
    print(row("2 commits + 3 round trips (ms)", f"{floors.loop[0]:9.2f} {floors.loop[1]:8.2f}"))
    print(row("two commits a notice, serially", f"{floors.ceiling:9.0f} notices/s\n"))
    return floors


@dataclass(slots=True)
class Results:
    """One code's figures, run after run."""

    loops: list[Loop] = field(default_factory=list)
    sends: list[Sends] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)

    @property
    def loop(self) -> Spread:
        """Every loop of every run, pooled."""
        return Spread.of([s for loop in self.loops for s in loop.samples])

    @property
    def send(self) -> Spread:
        """Every send of every run, pooled."""
        return Spread.of([s for sends in self.sends for s in sends.samples])

    @property
    def health(self) -> Spread:
        """Every ``GET /healthz`` of every run, pooled."""
        return Spread.of([s for sends in self.sends for s in sends.health_samples])

    @property
    def rate(self) -> float:
        """Notices per second acknowledged: the median of the runs."""
        return statistics.median(flow.per_second for flow in self.flows)


def measure_runs(
    directory: Path, args: argparse.Namespace, trees: dict[str, Path]
) -> dict[str, Results]:
    """Start a server on each tree, each on a fresh database; run each part on each in turn.

    Within a run each part runs on every server before the next part starts, so that the
    codes compared meet the machine in the same state; the order of the servers is
    reversed from one run to the next (ABBA), so that neither always goes first.
    """
    results = {label: Results() for label in trees}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for number, (label, tree) in enumerate(trees.items()):
            place = directory / f"server-{number}"
            url = stack.enter_context(fresh_database(args.database_url, place))
            prepare_flow(url, args)
            server = Server(place, env={"PYTHONPATH": str(tree)}, database_url=url)
            stack.callback(stop, server, label)  # before its database is dropped
            servers[label] = server
            if args.warmup:
                run(full_loop(server, args.warmup, deflate=not args.no_deflate))
        order = list(servers.items())
        for number in range(1, args.runs + 1):
            for part in chosen_parts(args):
                for label, server in order:
                    part(server, results[label], args, f"run {number} of {args.runs}, {label}")
            order.reverse()
    return results


Part = Callable[[Server, "Results", argparse.Namespace, str], None]
"""A part of a run: measures a server, prints, and keeps its figures in the results."""


def chosen_parts(args: argparse.Namespace) -> list[Part]:
    """The parts of a run that ``--parts`` names, in their order."""
    parts = {"loop": loop_part, "send": send_part, "throughput": flow_part}
    return [part for name, part in parts.items() if name in args.parts]


def flow_channels(args: argparse.Namespace) -> list[str]:
    """The throughput part's channels: with ``--channels`` above one, the demo's and the
    ``flow-N`` ones ``prepare_flow`` makes; else none said (the demo's alone)."""
    if args.channels == 1:
        return []
    return [demo.CHANNEL, *(f"flow-{number}" for number in range(args.channels - 1))]


def prepare_flow(url: str, args: argparse.Namespace) -> None:
    """Before a server starts on ``url``: make the throughput part's channels, if more than one."""
    if args.channels > 1 and "throughput" in args.parts:
        run(prepare_channels(url, args.channels - 1, prefix="flow"))


def stop(server: Server, label: str) -> None:
    """Stop a server, saying so if it did not exit cleanly."""
    status = server.stop()
    if status != 0:
        print(f"(the server on {label} exited with status {status} after SIGTERM)")


def profile_file(args: argparse.Namespace, title: str, part: str) -> Path | None:
    """Where py-spy writes a part's samples with ``--profile``: ``run-1-of-5-after-loop.txt``."""
    folder: Path | None = args.profile
    if folder is None:
        return None
    return folder / f"{title.replace(',', '').replace(' ', '-')}-{part}.txt"


@contextlib.contextmanager
def profiled(server: Server, args: argparse.Namespace, title: str, part: str) -> Iterator[None]:
    """With ``--profile``, sample each process of ``server`` that serves while the block runs:
    the server, or each of its workers (``...-flow-worker-1.txt``)."""
    with contextlib.ExitStack() as stack:
        if args.profile is not None:
            for pid, label in process_labels(server).items():
                if label == "server":
                    stack.enter_context(sampled(pid, profile_file(args, title, part)))
                elif label.startswith("worker"):
                    name = f"{part}-{label.replace(' ', '-')}"
                    stack.enter_context(sampled(pid, profile_file(args, title, name)))
        yield


def loop_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Time ``--loops`` loops on ``server``; print and keep the figures."""
    with profiled(server, args, title, "loop"):
        loop = run(full_loop(server, args.loops, deflate=not args.no_deflate))
    results.loops.append(loop)
    print(header(f"{title}: loop, {args.loops} notices"))
    print(row("whole loop (ms)", loop.whole))
    print(row("POST answered (ms)", loop.post))
    print(row("carla has notice.sent (ms)", loop.to_receiver))
    print(row("then ana has the ack (ms)", loop.back))
    print(row("server CPU per loop (ms)", f"{loop.server_cpu_ms:9.2f}"))
    several = set(loop.placement.values()) != {"server"}
    threads = "the workers' event loop threads" if several else "its event loop thread"
    print(row(f"  of which {threads}", f"{loop.loop_cpu_ms:9.2f}"))
    if several:
        print(row("held by", ", ".join(f"{k} {v}" for k, v in loop.placement.items())))
    print()


def send_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Time ``--sends`` sends one after another on ``server``; print and keep the figures."""
    sends = rest_sends(server, args.sends)
    results.sends.append(sends)
    print(header(f"{title}: {args.sends} sends, one at a time"))
    print(row("send, answered 201 (ms)", sends.send))
    print(row("GET /healthz between them (ms)", f"{sends.health}\n"))


def flow_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Run one throughput part on ``server``; print and keep the figures."""
    postgres = None if args.database_url is None else PostgresCpu.find(args.database_url)
    with profiled(server, args, title, "flow"):
        flow = run(
            throughput(
                server,
                clients=args.clients,
                notices=args.notices,
                consumers=args.consumers,
                deflate=not args.no_deflate,
                postgres=postgres,
                channels=flow_channels(args),
            )
        )
    results.flows.append(flow)
    several = len(flow.by_process) > 1
    threads = "the workers' event loop threads" if several else "its event loop thread"
    print(
        f"{title}: throughput, {args.clients} senders, {args.consumers} acknowledging sockets"
        f"{'' if flow.channels == 1 else f', {flow.channels} channels'}\n"
        f"  {flow.per_second:.0f} notices/s acknowledged ({flow.notices} in {flow.seconds:.1f} s, "
        f"the last send answered at {flow.sends_seconds:.1f} s); the log checked\n"
        f"{row('send to ack seen, per notice (ms)', flow.latency)}\n"
        f"  CPU: server {100 * flow.server_cpu:.0f}% of a core ({threads} "
        f"{100 * flow.server_loop_cpu:.0f}%), {flow.server_cpu_ms:.1f} ms per notice; "
        f"this client {100 * flow.client_cpu:.0f}%\n"
        f"  waiting, ready, for a CPU: {threads} {100 * flow.server_queued:.0f}% of the time"
    )
    if flow.postgres_cpu is not None and flow.postgres_cpu_ms is not None:
        print(
            f"  PostgreSQL (all its processes, whoever asked) {100 * flow.postgres_cpu:.0f}% "
            f"of a core, {flow.postgres_cpu_ms:.1f} ms per notice"
        )
    if several:
        print(f"  by process: {by_process(flow)}")
    print()


def by_process(flow: Flow) -> str:
    """``worker 1 64% (33 senders, 5 sockets), ...``: each server process's share of a core,
    and how many of the run's connections it held."""
    shown = []
    for label, share in flow.by_process.items():
        held = [f"{flow.senders_on[label]} senders"] if label in flow.senders_on else []
        held += [f"{flow.sockets_on[label]} sockets"] if label in flow.sockets_on else []
        shown.append(f"{label} {100 * share:.0f}%" + (f" ({', '.join(held)})" if held else ""))
    lost = flow.senders_on["?"] + flow.sockets_on["?"]
    return ", ".join(shown) + (f"; {lost} connections not found" if lost else "")


def measure_idle(directory: Path, args: argparse.Namespace) -> tuple[Idle, Idle]:
    """Idle sockets on a fresh server of ``--after``'s code, then on a bare python-websockets
    server."""
    deflate = not args.no_deflate
    with fresh_database(args.database_url, directory / "idle") as url:
        channels = [demo.CHANNEL, *run(prepare_channels(url, args.idle_channels - 1))]
        # A fresh process, so that nothing else has grown its RSS.
        server = Server(directory / "idle", env={"PYTHONPATH": str(args.after)}, database_url=url)
        try:
            tokens = [server.tokens[o] for o in ("ana", "ben", "carla", "dev")]
            pid = server.process.pid
            idle = hold_idle(pid, ws_url(server), tokens, channels, args.idle, deflate=deflate)
        finally:
            stop(server, "the idle part")
    with child(echo_server) as (pipe, echo_pid):
        url = f"ws://127.0.0.1:{wait_for(pipe, STEP * 3)}"
        bare = hold_idle(echo_pid, url, [], [], args.idle, deflate=deflate)
    return idle, bare


def judged(
    label: str,
    figure: float,
    floor: float | None,
    limit: float | None,
    *,
    at_least: bool = False,
    unit: str = " ms",
) -> str:
    """A line of the summary: the figure, its floor, their ratio, the target and verdict."""
    floor_text = f"{floor:10.2f}{figure / floor:8.2f}x" if floor else " " * 19
    if limit is None:
        goal = "no target"
    else:
        met = figure >= limit if at_least else figure <= limit
        goal = f"{'>=' if at_least else '<='} {limit:,g}{unit}: {verdict(met)}"
    return f"  {label:<40}{figure:10.2f}{floor_text}   {goal}"


def over_runs(figures: list[float], unit: str) -> str:
    """``runs 12.1-14.3 ms``: the spread of one figure over the runs (empty for one run)."""
    if len(figures) < 2:
        return ""
    return f"; runs {min(figures):.2f}-{max(figures):.2f}{unit}"


def summarise(
    label: str,
    args: argparse.Namespace,
    floors: Floors | None,
    results: Results,
    idle: tuple[Idle, Idle] | None,
) -> None:
    """Print one code's figures over all runs beside the floors and the targets.

    A part left out of ``--parts`` leaves out its lines; without the floors, the floor and
    ratio columns stay empty.
    """
    targets = TARGETS[kind_of(args.database_url)]
    database = "SQLite" if args.database_url is None else "PostgreSQL"
    title = f"{label}, {database}, {args.runs} run(s)"
    print(f"{title:<42}{'figure':>10}{'floor':>10}{'ratio':>9}   target")
    if results.loops:
        pooled = results.loop
        floor, floor_p99 = floors.loop if floors else (None, None)
        p50_label = f"full loop p50, {pooled.count} pooled (ms)"
        print(judged(p50_label, pooled.median, floor, targets.get("loop p50")))
        print(judged("full loop p99 (ms)", pooled.p99, floor_p99, targets.get("loop p99")))
        medians = [loop.whole.median for loop in results.loops]
        print(f"    floor: 2 durable commits + 3 WebSocket echoes{over_runs(medians, ' ms')}")
    if results.flows:
        rate_label = f"notices/s, {args.clients} senders, {args.consumers} ack sockets"
        ceiling, limit = floors.ceiling if floors else None, targets.get("notices/s")
        print(judged(rate_label, results.rate, ceiling, limit, at_least=True, unit="/s"))
        rates = [flow.per_second for flow in results.flows]
        cpu = statistics.median(flow.server_cpu_ms for flow in results.flows)
        print(f"    floor: 2 durable commits a notice, serially{over_runs(rates, '/s')}")
        print(f"    {cpu:.1f} ms of server CPU a notice; the log checked after each run")
    if results.sends:
        send, health = results.send, results.health
        send_label = "one REST send, sequential, median (ms)"
        send_floor = health.median + floors.commit.median if floors else None
        print(judged(send_label, send.median, send_floor, targets.get("send")))
        print(
            f"    floor: GET /healthz ({health.median:.2f}) + a durable commit; p99 {send.p99:.2f}"
        )
    if idle is not None:
        summarise_idle(*idle, targets["idle MiB"])
    print(f"  {PROOF_TARGET}\n")


def summarise_idle(hotline: Idle, bare: Idle, limit: float) -> None:
    """The idle sockets' lines of the summary."""
    floor = bare.mib if bare.mib > 0 else None
    label = f"{hotline.sockets:,} idle sockets, MiB above fresh"
    share = limit * hotline.sockets / IDLE_TARGET_SOCKETS
    print(judged(label, hotline.mib, floor, share, unit=" MiB"))
    if hotline.sockets != IDLE_TARGET_SOCKETS:
        print(f"    the target: {limit:g} MiB for {IDLE_TARGET_SOCKETS:,} sockets, and its share")
    print(
        f"    floor: a bare python-websockets server, {bare.kib_each:.1f} KiB a socket "
        f"(Hotline {hotline.kib_each:.1f})"
    )
    print(
        f"    the process {hotline.before_kib / 1024:.0f} -> {hotline.after_kib / 1024:.0f} MiB, "
        f"peak {hotline.peak_kib / 1024:.0f}; {hotline.channels} channel(s); "
        f"{hotline.held['still_open']} still open when counted"
    )
    print(
        f"    opened in {hotline.opened['seconds']:.1f} s (one: median "
        f"{hotline.opened['median_ms']:.0f} ms, p99 {hotline.opened['p99_ms']:.0f} ms); "
        f"{hotline.held['messages']} messages received; server closes: "
        f"{hotline.held['closes'] or 'none'}"
    )


def compare(args: argparse.Namespace, before: Results, after: Results) -> None:
    """The two codes' figures side by side, and the ratio of after to before."""
    figures: list[tuple[str, str, Callable[[Results], float]]] = [
        ("loop", "full loop, median (ms)", lambda r: r.loop.median),
        ("loop", "full loop, p99 (ms)", lambda r: r.loop.p99),
        (
            "loop",
            "server CPU per loop (ms)",
            lambda r: statistics.median(x.server_cpu_ms for x in r.loops),
        ),
        ("send", "REST send, median (ms)", lambda r: r.send.median),
        ("send", "REST send, p99 (ms)", lambda r: r.send.p99),
        ("send", "GET /healthz, median (ms)", lambda r: r.health.median),
        ("throughput", "notices/s, median of runs", lambda r: r.rate),
        (
            "throughput",
            "send to ack seen, median (ms)",
            lambda r: statistics.median(f.latency.median for f in r.flows),
        ),
        (
            "throughput",
            "server CPU per notice (ms)",
            lambda r: statistics.median(f.server_cpu_ms for f in r.flows),
        ),
    ]
    title = f"before and after, {args.runs} turn(s) each"
    print(f"{title:<42}{'before':>10}{'after':>10}{'after/before':>14}")
    for part, label, figure in figures:
        if part not in args.parts:
            continue
        old, new = figure(before), figure(after)
        print(f"  {label:<40}{old:10.2f}{new:10.2f}{new / old:14.2f}")
    print("    the turns alternate: before, after, then after, before in the next run (ABBA)")


# -- several workers ----------------------------------------------------------------------


def main_workers(args: argparse.Namespace) -> None:
    """``--workers``: the floors, then every worker count in each run; then the table."""
    with tempfile.TemporaryDirectory(prefix="hotline-live-") as tmp:
        directory = Path(tmp)
        describe(args, directory, {"this tree" if args.after == ROOT else "after": args.after})
        floors = measure_floors(directory, args) if "floors" in args.parts else None
        results = measure_workers(directory, args)
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    summarise_workers(args, floors, results)


def plural(workers: int) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{workers} worker{'' if workers == 1 else 's'}"


def measure_workers(directory: Path, args: argparse.Namespace) -> dict[int, Results]:
    """In each run, for each worker count in turn, a fresh database and a fresh demo with
    ``HOTLINE_WORKERS`` at that count: warmed up, measured, stopped, its database dropped.

    The order of the counts is reversed from one run to the next (1, 2, 4, then 4, 2, 1),
    so that what the machine does meanwhile falls on each count alike.
    """
    results = {workers: Results() for workers in args.workers}
    order = list(args.workers)
    for number in range(1, args.runs + 1):
        for workers in order:
            title = f"run {number} of {args.runs}, {plural(workers)}"
            place = directory / f"run-{number}-workers-{workers}"
            with fresh_database(args.database_url, place) as url:
                prepare_flow(url, args)
                env = {"PYTHONPATH": str(args.after), "HOTLINE_WORKERS": str(workers)}
                starting = time.perf_counter()
                server = Server(place, env=env, database_url=url)
                try:
                    print(f"{title}: serving after {time.perf_counter() - starting:.1f} s\n")
                    warm_up(server, args)
                    for part in chosen_parts(args):
                        part(server, results[workers], args, title)
                finally:
                    stop(server, title)  # before its database is dropped
        order.reverse()
    return results


def warm_up(server: Server, args: argparse.Namespace) -> None:
    """Untimed: ``--warmup`` loops and, before a throughput part, two notices a sender.

    Every worker starts cold (its own pools, caches and compiled statements), and which
    worker a connection lands on is the kernel's choice: the senders' many connections
    are what reaches them all.
    """
    deflate = not args.no_deflate
    if args.warmup:
        run(full_loop(server, args.warmup, deflate=deflate))
    if "throughput" in args.parts:
        run(
            throughput(
                server,
                clients=args.clients,
                notices=2 * args.clients,
                consumers=args.consumers,
                deflate=deflate,
                channels=flow_channels(args),
            )
        )


def summarise_workers(
    args: argparse.Namespace, floors: Floors | None, results: dict[int, Results]
) -> None:
    """The table: each worker count's loop and throughput, beside the fewest workers'.

    Loops are pooled over the runs; every other figure is the median of the runs.
    """
    base = results[min(results)]
    database = "SQLite" if args.database_url is None else "PostgreSQL"
    print(
        f"workers on {database}, {args.runs} run(s) each, {os.cpu_count()} cores; "
        f"loops pooled over the runs, other figures the median of the runs; "
        f"ratios to {plural(min(results))}; throughput on {args.channels} channel(s)\n"
        f"{'':8}{'loop (ms)':^26}{'notices a second':^18}{'CPU ms a notice':^20}"
        f"{'cores busy':^20}\n"
        f"{'workers':>7}{'p50':>9}{'p90':>9}{'ratio':>8}{'rate':>10}{'ratio':>8}"
        f"{'server':>10}{'PG':>10}{'server':>8}{'PG':>6}{'client':>8}"
    )
    for workers, result in results.items():
        loop = result.loop if result.loops else None
        flows = result.flows
        cells = [f"{workers:>7}"]
        if loop is None:
            cells.append(f"{'-':>9}{'-':>9}{'-':>8}")
        else:
            cells.append(f"{loop.median:9.2f}{loop.p90:9.2f}{loop.median / base.loop.median:8.2f}")
        if not flows:
            cells.append(f"{'-':>10}{'-':>8}{'-':>10}{'-':>10}{'-':>8}{'-':>6}{'-':>8}")
        else:
            postgres_ms = median_of([f.postgres_cpu_ms for f in flows])
            postgres = median_of([f.postgres_cpu for f in flows])
            cells += [
                f"{result.rate:10.0f}{result.rate / base.rate:8.2f}",
                f"{statistics.median(f.server_cpu_ms for f in flows):10.2f}",
                "         -" if postgres_ms is None else f"{postgres_ms:10.2f}",
                f"{statistics.median(f.server_cpu for f in flows):8.2f}",
                "     -" if postgres is None else f"{postgres:6.2f}",
                f"{statistics.median(f.client_cpu for f in flows):8.2f}",
            ]
        print("".join(cells))
    print(
        "  cores busy: CPU time over the throughput run's time; PG: the PostgreSQL server's "
        "processes, whoever asked; client: this script"
    )
    if floors is not None:
        print(
            f"  floors: a durable {floors.database} commit {floors.commit.median:.2f} ms, a "
            f"WebSocket echo {floors.echo.median:.2f} ms; 2 commits + 3 echoes "
            f"{floors.loop[0]:.2f} ms"
        )
    for workers, result in results.items():
        split_lines(workers, result)
    print()


def median_of(figures: list[float | None]) -> float | None:
    """The median of the figures that are there, or ``None``."""
    there = [figure for figure in figures if figure is not None]
    return statistics.median(there) if there else None


def split_lines(workers: int, result: Results) -> None:
    """How one worker count's work fell on its processes: the throughput runs' CPU and
    connections by worker, busiest first, how long the event loops waited for a CPU, and
    each run's loop with where it was held."""
    flows = result.flows
    if flows:
        queued = statistics.median(f.server_queued for f in flows)
        line = f"  {plural(workers)}, throughput: "
        if workers > 1:
            shares = by_rank([[v for k, v in f.by_process.items() if "worker" in k] for f in flows])
            senders = by_rank(
                [[f.senders_on[k] for k in f.by_process if "worker" in k] for f in flows]
            )
            others = {
                label: statistics.median(f.by_process.get(label, 0.0) for f in flows)
                for label in flows[0].by_process
                if "worker" not in label
            }
            line += (
                f"CPU by worker, busiest first, {' '.join(f'{100 * s:.0f}%' for s in shares)} "
                f"of a core; senders' connections {' '.join(f'{n:.0f}' for n in senders)}; "
                + "".join(f"{label} {100 * share:.0f}%, " for label, share in others.items())
            )
        print(f"{line}event loops waited, ready, for a CPU {100 * queued:.0f}% of the time")
    if result.loops and workers > 1:
        runs = "; ".join(
            f"{loop.whole.median:.2f} ({', '.join(loop.placement.values())})".replace(
                "worker ", "w"
            )
            for loop in result.loops
        )
        print(f"  {plural(workers)}, loop medians by run (POST, ana, carla held by): {runs}")


def by_rank(runs: list[list[float]]) -> list[float]:
    """Figures of several runs sorted largest first, then the median of each rank."""
    ranked = [sorted(figures, reverse=True) for figures in runs]
    width = min(len(figures) for figures in ranked)
    return [statistics.median(figures[rank] for figures in ranked) for rank in range(width)]


if __name__ == "__main__":
    main()
