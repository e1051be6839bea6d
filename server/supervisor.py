"""Several server processes on one port: a supervisor and its workers.

``hotline serve --workers N`` runs this, on PostgreSQL only (:func:`refusal` says why).
The supervisor does once what must run once: it applies the migrations, runs ``prepare``
(the demo's data), builds any Merkle tree that lags its log and makes the key files.
Then it binds the port and starts N workers. Each is a fresh Python process
(multiprocessing's "spawn") that serves the inherited listening socket with the same
application as a single server process: REST and WebSockets, and its own scheduler,
delivery worker and database pool. The kernel hands each new connection to whichever
worker accepts it first.

From then on the supervisor only watches, in one loop (:class:`Supervisor`):

- once every worker serves, it logs ``serving`` and calls ``on_started(url)``;
- a worker that exits while nobody asked it to (killed, crashed) is started again after a
  pause that doubles with each exit of that worker in the last minute; after
  ``MAX_RESTARTS`` such exits in a minute it gives up, stops the others and exits 1;
- on SIGTERM or SIGINT it sends each worker SIGTERM, waits for them to finish their
  requests and exit (``STOP_SECONDS`` at most, then SIGKILL), and exits 0 if every one
  stopped cleanly.

A worker whose supervisor is gone (killed with SIGKILL, say) stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from types import FrameType

from sqlalchemy.engine import make_url

from server.config import Settings
from server.keys import LogKeys
from server.logs import configure
from server.secrets import SecretBox
from server.serve import listen, run_loop, serve_worker, url_of
from server.service import log as log_service
from server.store.db import Database
from server.store.migrate import upgrade

__all__ = [
    "FIRST_BACKOFF_SECONDS",
    "MAX_BACKOFF_SECONDS",
    "MAX_RESTARTS",
    "RESTART_WINDOW_SECONDS",
    "START_SECONDS",
    "STOP_SECONDS",
    "Restarts",
    "Supervisor",
    "refusal",
    "run",
]

log = logging.getLogger(__name__)

START_SECONDS = 60.0
"""How long the workers have, together, to start serving; then the supervisor gives up."""
STOP_SECONDS = 30.0
"""How long the workers have to stop after SIGTERM (a request may take 10 s to finish, the
delivery worker 5 s more); then they are killed."""
RESTART_WINDOW_SECONDS = 60.0
"""The window in which a worker's unexpected exits are counted."""
MAX_RESTARTS = 5
"""Unexpected exits of one worker within the window that are followed by a restart."""
FIRST_BACKOFF_SECONDS = 0.5
"""The pause before restarting a worker that exited once in the window; doubled for each
exit more."""
MAX_BACKOFF_SECONDS = 8.0
"""The longest pause before a restart."""

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SERVING = b"serving"
"""What a worker sends its supervisor once it serves."""


def refusal(settings: Settings) -> str | None:
    """Why ``settings`` cannot run their number of workers, or ``None`` when they can."""
    if settings.workers > 1 and make_url(settings.database_url).get_backend_name() == "sqlite":
        return (
            f"{settings.workers} workers need PostgreSQL. SQLite lets one process write at "
            "a time, so more processes would only queue for its lock; and it cannot tell "
            "one process what another committed (PostgreSQL can: NOTIFY), so a socket on "
            "one worker would hear events sent through another late. Run one worker on "
            "SQLite, or move to PostgreSQL (docs/how-to/postgresql.md)."
        )
    return None


def run(
    settings: Settings,
    *,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
    on_started: Callable[[str], None] | None = None,
) -> int:
    """Migrate, ``prepare``, bind, and serve with ``settings.workers`` workers until stopped.

    ``on_started(url)`` is called in this process once every worker serves.

    Returns:
        The exit status: 0 when every worker stopped cleanly after SIGTERM or SIGINT.

    Raises:
        ValueError: the settings cannot run several workers (see :func:`refusal`).
    """
    reason = refusal(settings)
    if reason is not None:
        raise ValueError(reason)
    configure(level=settings.log_level, fmt=settings.log_format)
    asyncio.run(_once(settings, prepare))
    with listen(settings.host, settings.port) as sock:
        url = url_of(sock)
        announce = None if on_started is None else lambda: on_started(url)
        return Supervisor(settings, sock, on_started=announce).run()


async def _once(settings: Settings, prepare: Callable[[Database], Awaitable[None]] | None) -> None:
    """What the workers must not each do: migrate, prepare, build trees, make key files."""
    db = Database(settings.database_url)
    try:
        await upgrade(db)
        if prepare is not None:
            await prepare(db)
        await log_service.build_missing(db)
    finally:
        await db.dispose()
    LogKeys.load_or_create(settings.log_key_file, name=settings.log_name)
    SecretBox.load_or_create(settings.secrets_key_file)


@dataclass
class Restarts:
    """When to start a worker again after it exited unexpectedly, and when to stop trying.

    The pause doubles with each exit within the last ``window`` seconds, from ``first`` up
    to ``longest``: a worker that died once, after serving for hours, is back at once; one
    that cannot start is not restarted in a tight loop. More than ``limit`` exits in the
    window mean that restarting does not help: time to give up.
    """

    window: float = RESTART_WINDOW_SECONDS
    limit: int = MAX_RESTARTS
    first: float = FIRST_BACKOFF_SECONDS
    longest: float = MAX_BACKOFF_SECONDS
    exits: deque[float] = field(default_factory=deque)
    """When the exits within the window happened (monotonic seconds)."""

    def pause_after_exit(self, now: float) -> float | None:
        """Count an exit at ``now``; the seconds to wait before the restart, ``None`` to give up."""
        self.exits.append(now)
        while self.exits[0] <= now - self.window:
            self.exits.popleft()
        if len(self.exits) > self.limit:
            return None
        return min(self.first * 2.0 ** (len(self.exits) - 1), self.longest)


@dataclass
class _Slot:
    """One of the N places for a worker, and the worker in it now."""

    number: int
    process: SpawnProcess | None = None
    ready: Connection | None = None
    """Where the worker says it serves; ``None`` once it has said so (or has exited)."""
    serving: bool = False
    restarts: Restarts = field(default_factory=Restarts)
    restart_at: float | None = None


class Supervisor:
    """Starts the workers, restarts those that die, and stops them all on a signal.

    Args:
        settings: the configuration every worker runs with; ``workers`` says how many.
        sock: the listening socket the workers share.
        on_started: called once, when every worker serves for the first time.
    """

    def __init__(
        self,
        settings: Settings,
        sock: socket.socket,
        *,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sock = sock
        self.on_started = on_started
        self.slots = [_Slot(number) for number in range(1, settings.workers + 1)]
        self.announced = False
        self.stop_signal: int | None = None
        self._context = multiprocessing.get_context("spawn")
        # The interpreter writes each signal's number here the moment it arrives, so the
        # loop's wait wakes for it. A handler written in Python would not do: it runs
        # between two bytecodes, and a signal that comes just before the wait's system
        # call starts would be handled only once the wait ended by itself, if ever.
        self._wake, self._waker = socket.socketpair()
        self._wake.setblocking(False)
        self._waker.setblocking(False)

    def run(self) -> int:
        """Supervise until a signal says stop, or the workers cannot be kept running.

        Returns:
            0 when every worker stopped cleanly after SIGTERM or SIGINT, else 1.
        """
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        previous_fd = signal.set_wakeup_fd(self._waker.fileno(), warn_on_full_buffer=False)
        try:
            for slot in self.slots:
                self._start(slot)
            failed = self._watch()
            stopped = self._stop_all()
            return 1 if failed or not stopped else 0
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._wake.close()
            self._waker.close()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        # Catching the signal keeps it from ending this process; the wake-up descriptor
        # tells the loop about it.
        pass

    def _woken(self) -> None:
        """Read the signals the interpreter wrote to the wake-up socket; the first is the stop."""
        with contextlib.suppress(BlockingIOError):
            for number in self._wake.recv(64):
                if number in _STOP_SIGNALS and self.stop_signal is None:
                    self.stop_signal = number

    def _watch(self) -> bool:
        """The loop: until a stop signal, start, restart and wait. Returns whether it failed."""
        give_up_at = time.monotonic() + START_SECONDS
        while self.stop_signal is None:
            now = time.monotonic()
            for slot in self.slots:
                if slot.restart_at is not None and slot.restart_at <= now:
                    self._start(slot)
            if not self.announced:
                if all(slot.serving for slot in self.slots):
                    self._announce()
                elif now >= give_up_at:
                    log.error(
                        "the workers did not all start serving in time; stopping",
                        extra={"seconds": START_SECONDS},
                    )
                    return True
            for ready in wait(self._waiting(), self._timeout(now, give_up_at)):
                if ready is self._wake:
                    self._woken()
                elif not self._heard(ready):
                    return True
        log.info("stopping the workers", extra={"signal": signal.Signals(self.stop_signal).name})
        return False

    def _waiting(self) -> list[Connection | socket.socket | int]:
        """What the loop waits on: the signal pipe, and each worker's messages and exit."""
        waiting: list[Connection | socket.socket | int] = [self._wake]
        for slot in self.slots:
            if slot.process is not None:
                waiting.append(slot.process.sentinel)
            if slot.ready is not None:
                waiting.append(slot.ready)
        return waiting

    def _timeout(self, now: float, give_up_at: float) -> float | None:
        """Seconds until the next thing the loop must do by itself, if there is one."""
        due = [slot.restart_at for slot in self.slots if slot.restart_at is not None]
        if not self.announced:
            due.append(give_up_at)
        return max(0.0, min(due) - now) if due else None

    def _heard(self, ready: object) -> bool:
        """Handle a worker's message or exit; ``False`` if the supervisor must give up."""
        for slot in self.slots:
            if ready is slot.ready:
                self._read(slot)
                return True
            if slot.process is not None and ready == slot.process.sentinel:
                return self._exited(slot)
        return True

    def _read(self, slot: _Slot) -> None:
        assert slot.ready is not None
        try:
            said = slot.ready.recv_bytes()
        except EOFError:  # it exited without a word: its sentinel tells the rest
            said = b""
        slot.ready.close()
        slot.ready = None
        slot.serving = said == _SERVING

    def _exited(self, slot: _Slot) -> bool:
        assert slot.process is not None
        process, slot.process = slot.process, None
        process.join()
        served, slot.serving = slot.serving, False
        if slot.ready is not None:
            slot.ready.close()
            slot.ready = None
        now = time.monotonic()
        details = {"worker": slot.number, "pid": process.pid, "status": process.exitcode}
        if not self.announced and not served:
            log.error("a worker exited before it served; stopping", extra=details)
            return False
        pause = slot.restarts.pause_after_exit(now)
        if pause is None:
            exits = len(slot.restarts.exits)
            log.error(
                "a worker keeps exiting; giving up",
                extra={**details, "exits": exits, "within": slot.restarts.window},
            )
            return False
        slot.restart_at = now + pause
        log.warning("a worker exited; restarting it", extra={**details, "restart_in": pause})
        return True

    def _start(self, slot: _Slot) -> None:
        ready, tell = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_work,
            args=(self.settings, self.sock, slot.number, tell),
            name=f"hotline-worker-{slot.number}",
            daemon=True,  # should this process die of an error, its workers go with it
        )
        process.start()
        tell.close()  # the worker holds the writing end: its exit means end-of-file here
        slot.process, slot.ready, slot.restart_at = process, ready, None
        log.info("worker started", extra={"worker": slot.number, "pid": process.pid})

    def _announce(self) -> None:
        self.announced = True
        log.info(
            "serving",
            extra={
                "url": url_of(self.sock),
                "database": make_url(self.settings.database_url).render_as_string(),
                "workers": len(self.slots),
            },
        )
        if self.on_started is not None:
            self.on_started()

    def _stop_all(self) -> bool:
        """SIGTERM each worker and wait; kill those still running. Whether all stopped cleanly."""
        running = [(slot.number, slot.process) for slot in self.slots if slot.process]
        for _, process in running:
            process.terminate()  # SIGTERM
        deadline = time.monotonic() + STOP_SECONDS
        clean = True
        for number, process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.error(
                    "a worker did not stop in time; killing it",
                    extra={"worker": number, "pid": process.pid},
                )
                process.kill()
                process.join()
                clean = False
            else:
                # Killed by our own SIGTERM before it could catch it: it had served nothing.
                clean = clean and process.exitcode in (0, -signal.SIGTERM)
            details = {"worker": number, "pid": process.pid, "status": process.exitcode}
            log.info("worker stopped", extra=details)
        for slot in self.slots:
            slot.process = None
        return clean


class _WorkerTag(logging.Filter):
    """Names the worker, and its process id, on every line a worker logs."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.number
        record.pid = record.process
        return True


def _work(settings: Settings, sock: socket.socket, number: int, tell: Connection) -> None:
    """A worker's life, in its own process: serve ``sock`` until told to stop."""
    configure(level=settings.log_level, fmt=settings.log_format)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_WorkerTag(number))
    supervisor = multiprocessing.parent_process()
    assert supervisor is not None

    def started() -> None:
        log.info("worker serving")
        tell.send_bytes(_SERVING)
        tell.close()

    run_loop(serve_worker(settings, sock, on_started=started, supervisor_gone=supervisor.sentinel))
