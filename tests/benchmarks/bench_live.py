"""The live loop, one REST send, throughput under many clients, and idle sockets, on a real server.

Run from the repository root (docs/reference/benchmarks-live.md explains the figures)::

    python tests/benchmarks/bench_live.py --runs 4 --loops 300 --sends 300 --clients 64 \
        --notices 3000 --idle 5000 --before /tmp/hotline-before \
        [--database-url postgresql://postgres@127.0.0.1/test]

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
printed by what it was doing; the figures of a profiled run are not the benchmark's. The
script is not a test.
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
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from bench_send import Server, code_of, cpu_model, health, sender
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
PROOF_TARGET = "an inclusion proof served at 10^6 events: <= 2 ms (bench_log.py measures it)"

Json = dict[str, Any]
T = TypeVar("T")


# -- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 99th percentile of some times, in milliseconds."""

    median: float
    p99: float
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        """Summarise times given in seconds (at least one)."""
        ms = sorted(s * 1000 for s in seconds)
        p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
        return cls(median=statistics.median(ms), p99=p99, count=len(ms))

    def __str__(self) -> str:
        return f"{self.median:9.2f} {self.p99:8.2f}"


@dataclass(frozen=True, slots=True)
class Flow:
    """One throughput run."""

    notices: int
    seconds: float
    """From the first send to the last acknowledgement ana's socket saw."""
    sends_seconds: float
    """From the first send to the last send answered."""
    latency: Spread
    """Per notice, from just before its POST to ana's socket having its acknowledgement."""
    server_cpu: float
    """Server process CPU time over the run, as a share of one core (all its threads)."""
    server_loop_cpu: float
    """The same for the server's main thread alone: its event loop."""
    client_cpu: float
    """This process's CPU time, as a share of one core."""
    server_cpu_ms: float
    """Server process CPU time per notice, in milliseconds."""

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
        cls, server: Server, token: str, *, after: int, react: Reaction, deflate: bool
    ) -> Subscriber:
        """Connect, say hello, subscribe to the demo channel after ``after``."""
        websocket = await connect(
            ws_url(server),
            open_timeout=STEP,
            ping_interval=None,
            compression="deflate" if deflate else None,
        )
        await handshake(websocket, token, server.channel, after)
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
        subscribe = {"type": "subscribe", "channel": channel, "after": after}
        await websocket.send(json.dumps(subscribe))
        while json.loads(await websocket.recv())["type"] != "subscribed":
            pass  # presence messages may come first


class Acknowledger:
    """The roads side: acknowledges its share of the notices as their ``notice.sent`` comes."""

    def __init__(self, channel: str, share: int = 0, of: int = 1) -> None:
        self.channel = channel
        self.share = share
        self.of = of
        self.seen: dict[str, float] = {}

    def __call__(self, event: Json, arrived: float) -> str | None:
        if event["type"] != "notice.sent" or event["actor"]["party"] != "water":
            return None
        notice = event["data"]["notice"]
        if uuid.UUID(notice).int % self.of != self.share:
            return None
        self.seen[notice] = arrived
        return json.dumps(
            {
                "type": "decide",
                "ref": notice,
                "channel": self.channel,
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


async def head_of(http: httpx.AsyncClient, server: Server) -> int:
    """The demo channel's last sequence number."""
    answer = await http.get(
        f"/api/v1/channels/{server.channel}", headers=bearer(server.tokens["ana"])
    )
    answer.raise_for_status()
    head: int = answer.json()["head"]
    return head


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def post_notice(http: httpx.AsyncClient, server: Server, token: str, notice: str) -> None:
    """Send one notice without an activity window; anything but 201 stops the benchmark."""
    body = {"id": notice, "subject": "Water main renewal, Mill Lane", "body": BODY}
    answer = await http.post(
        f"/api/v1/channels/{server.channel}/notices", headers=bearer(token), json=body
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
    """Server process CPU time per loop (all its threads), in milliseconds."""
    loop_cpu_ms: float
    """The same for the server's main thread alone: its event loop."""
    samples: tuple[float, ...]
    """Every loop's time, in seconds, for figures over all runs."""


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
        pid = server.process.pid
        cpu = cpu_seconds(pid), cpu_seconds(pid, pid)
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
            cpu = cpu_seconds(pid) - cpu[0], cpu_seconds(pid, pid) - cpu[1]
        finally:
            await ana.close()
            await carla.close()
    return Loop(
        whole=Spread.of(whole),
        post=Spread.of(post),
        to_receiver=Spread.of(to_receiver),
        back=Spread.of(back),
        server_cpu_ms=1000 * cpu[0] / loops,
        loop_cpu_ms=1000 * cpu[1] / loops,
        samples=tuple(whole),
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
    server: Server, *, clients: int, notices: int, consumers: int, deflate: bool
) -> Flow:
    """``clients`` senders send ``notices`` in all; ``consumers`` sockets acknowledge them."""
    watcher = Watcher()
    watcher.expected = notices
    acknowledgers = [Acknowledger(server.channel, share, consumers) for share in range(consumers)]
    sent_at: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        head = await head_of(http, server)
        ana = await Subscriber.open(
            server, server.tokens["ana"], after=head, react=watcher, deflate=deflate
        )
        roads = [
            await Subscriber.open(
                server, server.tokens[("carla", "dev")[i % 2]], after=head, react=a, deflate=deflate
            )
            for i, a in enumerate(acknowledgers)
        ]

        quotas = [notices // clients + (i < notices % clients) for i in range(clients)]
        quotas = [q for q in quotas if q]
        connected = asyncio.Barrier(len(quotas) + 1)
        go = asyncio.Event()

        async def sender(number: int, count: int) -> None:
            token = server.tokens[("ana", "ben")[number % 2]]
            limits = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(
                base_url=server.url, timeout=BUSY_STEP, limits=limits
            ) as own:
                await own.get("/healthz")  # connected before the clock starts
                await connected.wait()
                await go.wait()
                for _ in range(count):
                    notice = str(uuid.uuid4())
                    sent_at[notice] = time.perf_counter()
                    await post_notice(own, server, token, notice)

        tasks = [asyncio.create_task(sender(i, q)) for i, q in enumerate(quotas)]
        async with asyncio.timeout(STEP * 3):
            await connected.wait()
        pid = server.process.pid
        cpu = (cpu_seconds(pid), cpu_seconds(pid, pid), time.process_time())
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
            used = (cpu_seconds(pid), cpu_seconds(pid, pid), time.process_time())
            for socket in (ana, *roads):
                await socket.close()
        await check_log(http, server, head, set(sent_at))
    finished = max(watcher.acknowledged.values())
    latencies = [watcher.acknowledged[n] - sent_at[n] for n in sent_at]
    return Flow(
        notices=notices,
        seconds=finished - started,
        sends_seconds=sends_done - started,
        latency=Spread.of(latencies),
        server_cpu=(used[0] - cpu[0]) / spent,
        server_loop_cpu=(used[1] - cpu[1]) / spent,
        client_cpu=(used[2] - cpu[2]) / spent,
        server_cpu_ms=1000 * (used[0] - cpu[0]) / notices,
    )


LIFE = ["notice.sent", "notice.received", "notice.acknowledged"]
"""The events each notice of the throughput part leaves in the log, in this order."""


async def check_log(http: httpx.AsyncClient, server: Server, head: int, sent: set[str]) -> None:
    """Fail unless the log after ``head`` holds exactly ``LIFE`` for each notice ``sent``.

    Read back over REST in pages: sequence numbers with no gap, nothing else in between,
    and the log's head just after the last of them.
    """
    last = head + len(LIFE) * len(sent)
    seen: dict[str, list[str]] = {}
    after, page_head = head, head
    for _ in range(len(LIFE) * len(sent) // PAGE + 2):  # one more page than needed, at most
        answer = await http.get(
            f"/api/v1/channels/{server.channel}/events",
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


async def prepare_channels(database_url: str, count: int) -> list[str]:
    """Make the demo (as the server would) and ``count`` more channels between its parties.

    Done before the server starts, so that it finds them as it would any channel it did not
    make itself.
    """
    db = Database(database_url)
    names = [f"idle-{number}" for number in range(count)]
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


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure the floors, start the servers, measure, print."""
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
    args = parser.parse_args(argv)
    if args.runs < 1 or args.loops < 2 or args.notices < 2 or args.clients < 1:
        parser.error("need --runs >= 1, --loops >= 2, --notices >= 2, --clients >= 1")
    if args.consumers < 1 or args.idle_channels < 1 or args.warmup < 0 or args.idle < 0:
        parser.error("need --consumers >= 1, --idle-channels >= 1, --warmup and --idle >= 0")
    if args.sends < 2:
        parser.error("need --sends >= 2")
    if args.database_url is not None and not args.database_url.startswith("postgres"):
        parser.error("--database-url: a postgresql:// URL (SQLite is the default)")
    if args.profile is not None:
        if py_spy() is None:
            parser.error("--profile needs py-spy: pip install py-spy")
        args.profile.mkdir(parents=True, exist_ok=True)
    args.after = args.after.resolve()
    if not (args.after / "server").is_dir():
        parser.error(f"--after {args.after}: no server/ package there")
    trees = {"this tree" if args.after == ROOT else "after": args.after}
    if args.before is not None:
        ensure_worktree(args.before)
        trees = {"before": args.before.resolve(), "after": args.after}

    with tempfile.TemporaryDirectory(prefix="hotline-live-") as tmp:
        directory = Path(tmp)
        print(f"python {platform.python_version()}, {cpu_model()}, {os.cpu_count()} cores")
        print(describe_database(args.database_url, directory))
        for label, tree in trees.items():
            print(f"{label}: {describe_tree(tree)}")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        deflate = "none" if args.no_deflate else "permessage-deflate"
        print(f"load average {load}; WebSocket compression offered: {deflate}\n")
        floors = measure_floors(directory, args)
        results = measure_runs(directory, args, trees)
        idle = measure_idle(directory, args) if args.idle else None
    print(f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    for label, result in results.items():
        summarise(label, args, floors, result, idle if label == list(results)[-1] else None)
    if args.before is not None:
        compare(args, results["before"], results["after"])


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
            server = Server(place, env={"PYTHONPATH": str(tree)}, database_url=url)
            stack.callback(stop, server, label)  # before its database is dropped
            servers[label] = server
            if args.warmup:
                run(full_loop(server, args.warmup, deflate=not args.no_deflate))
        order = list(servers.items())
        for number in range(1, args.runs + 1):
            for part in (loop_part, send_part, flow_part):
                for label, server in order:
                    part(server, results[label], args, f"run {number} of {args.runs}, {label}")
            order.reverse()
    return results


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


def loop_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Time ``--loops`` loops on ``server``; print and keep the figures."""
    with sampled(server.process.pid, profile_file(args, title, "loop")):
        loop = run(full_loop(server, args.loops, deflate=not args.no_deflate))
    results.loops.append(loop)
    print(header(f"{title}: loop, {args.loops} notices"))
    print(row("whole loop (ms)", loop.whole))
    print(row("POST answered (ms)", loop.post))
    print(row("carla has notice.sent (ms)", loop.to_receiver))
    print(row("then ana has the ack (ms)", loop.back))
    print(row("server CPU per loop (ms)", f"{loop.server_cpu_ms:9.2f}"))
    print(row("  of which its event loop thread", f"{loop.loop_cpu_ms:9.2f}\n"))


def send_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Time ``--sends`` sends one after another on ``server``; print and keep the figures."""
    sends = rest_sends(server, args.sends)
    results.sends.append(sends)
    print(header(f"{title}: {args.sends} sends, one at a time"))
    print(row("send, answered 201 (ms)", sends.send))
    print(row("GET /healthz between them (ms)", f"{sends.health}\n"))


def flow_part(server: Server, results: Results, args: argparse.Namespace, title: str) -> None:
    """Run one throughput part on ``server``; print and keep the figures."""
    with sampled(server.process.pid, profile_file(args, title, "flow")):
        flow = run(
            throughput(
                server,
                clients=args.clients,
                notices=args.notices,
                consumers=args.consumers,
                deflate=not args.no_deflate,
            )
        )
    results.flows.append(flow)
    print(
        f"{title}: throughput, {args.clients} senders, {args.consumers} acknowledging sockets\n"
        f"  {flow.per_second:.0f} notices/s acknowledged ({flow.notices} in {flow.seconds:.1f} s, "
        f"the last send answered at {flow.sends_seconds:.1f} s); the log checked\n"
        f"{row('send to ack seen, per notice (ms)', flow.latency)}\n"
        f"  CPU: server {100 * flow.server_cpu:.0f}% of a core (its event loop thread "
        f"{100 * flow.server_loop_cpu:.0f}%), {flow.server_cpu_ms:.1f} ms per notice; "
        f"this client {100 * flow.client_cpu:.0f}%\n"
    )


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
    floors: Floors,
    results: Results,
    idle: tuple[Idle, Idle] | None,
) -> None:
    """Print one code's figures over all runs beside the floors and the targets."""
    targets = TARGETS[kind_of(args.database_url)]
    pooled, send, health = results.loop, results.send, results.health
    floor, floor_p99 = floors.loop
    title = f"{label}, {floors.database}, {len(results.loops)} run(s)"
    print(f"{title:<42}{'figure':>10}{'floor':>10}{'ratio':>9}   target")
    p50_label = f"full loop p50, {pooled.count} pooled (ms)"
    print(judged(p50_label, pooled.median, floor, targets.get("loop p50")))
    print(judged("full loop p99 (ms)", pooled.p99, floor_p99, targets.get("loop p99")))
    medians = [loop.whole.median for loop in results.loops]
    print(f"    floor: 2 durable commits + 3 WebSocket echoes{over_runs(medians, ' ms')}")
    rate_label = f"notices/s, {args.clients} senders, {args.consumers} ack sockets"
    ceiling, limit = floors.ceiling, targets.get("notices/s")
    print(judged(rate_label, results.rate, ceiling, limit, at_least=True, unit="/s"))
    rates = [flow.per_second for flow in results.flows]
    cpu = statistics.median(flow.server_cpu_ms for flow in results.flows)
    print(f"    floor: 2 durable commits a notice, serially{over_runs(rates, '/s')}")
    print(f"    {cpu:.1f} ms of server CPU a notice; the log checked after each run")
    send_label = "one REST send, sequential, median (ms)"
    send_floor = health.median + floors.commit.median
    print(judged(send_label, send.median, send_floor, targets.get("send")))
    print(f"    floor: GET /healthz ({health.median:.2f}) + a durable commit; p99 {send.p99:.2f}")
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
    figures: list[tuple[str, Callable[[Results], float]]] = [
        ("full loop, median (ms)", lambda r: r.loop.median),
        ("full loop, p99 (ms)", lambda r: r.loop.p99),
        ("server CPU per loop (ms)", lambda r: statistics.median(x.server_cpu_ms for x in r.loops)),
        ("REST send, median (ms)", lambda r: r.send.median),
        ("REST send, p99 (ms)", lambda r: r.send.p99),
        ("GET /healthz, median (ms)", lambda r: r.health.median),
        ("notices/s, median of runs", lambda r: r.rate),
        (
            "send to ack seen, median (ms)",
            lambda r: statistics.median(f.latency.median for f in r.flows),
        ),
        (
            "server CPU per notice (ms)",
            lambda r: statistics.median(f.server_cpu_ms for f in r.flows),
        ),
    ]
    title = f"before and after, {len(after.loops)} turn(s) each"
    print(f"{title:<42}{'before':>10}{'after':>10}{'after/before':>14}")
    for label, figure in figures:
        old, new = figure(before), figure(after)
        print(f"  {label:<40}{old:10.2f}{new:10.2f}{new / old:14.2f}")
    print("    the turns alternate: before, after, then after, before in the next run (ABBA)")


if __name__ == "__main__":
    main()
