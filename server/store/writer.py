"""The single writer: every command of a process, one batch at a time, one commit a batch.

Commands do not open transactions of their own. They queue here; one thread owns the
write connection and takes everything queued as one batch: it locks the batch's channels,
runs each command against a :class:`~server.store.ledger.Batch` (read state, let the pure
domain decide, append events and tree nodes), writes each table's rows in one statement
and commits once (group commit: one fsync for the batch). Only then is each command
answered, and its events published, in commit order. While the thread commits, the event
loop goes on taking requests, and those queue up for the next batch: the busier the server,
the larger the batches and the cheaper each command.

Why one thread and not the event loop: the thread runs the synchronous drivers (``sqlite3``,
``psycopg``) with no hand-off per statement, and SQLite's fsync and PostgreSQL's round trips
release the interpreter meanwhile. Why one writer and not many: SQLite lets one
transaction write at a time anyway, and writers that wait for its lock sleep in its busy
handler. Reads keep their own connections (``Database.session``; SQLite's WAL lets them
run beside the writer).

A batch whose writing or commit fails is rolled back whole and its commands run again one
by one, each in a batch of its own, so that one failing command fails alone. A refused
command (a :class:`~server.domain.errors.Refusal`) wrote nothing and fails alone at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from client.protocol import schemas
from server.domain.errors import Refusal
from server.store.ledger import Batch, Memory, Statements

__all__ = ["Publisher", "Writer", "Written", "sync_url"]

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Commands committed together at most: a bound on how long one batch holds the lock."""

T = TypeVar("T", bound="Written")


class Written(Protocol):
    """What a command returns: the events it appended and the channel's root after them."""

    @property
    def events(self) -> list[schemas.Event]: ...

    @property
    def root(self) -> bytes | None: ...


class Publisher(Protocol):
    """Where committed events go (``server.fanout.Fanout`` is one)."""

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None: ...


@dataclass(eq=False)
class _Work(Generic[T]):
    run: Callable[[Batch], T]
    channel_id: str
    notice_ids: Collection[Any]
    publisher: Publisher | None
    future: asyncio.Future[T]
    result: T | None = None
    error: BaseException | None = None
    retried: bool = field(default=False)


def sync_url(url: URL) -> URL:
    """The synchronous driver for the writer's connection to the same database."""
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    return url.set(drivername="postgresql+psycopg")


class Writer:
    """The one owner of a database's write connection in this process.

    Cheap to create: the thread and the connection start with the first command.

    Args:
        url: the database (any driver name: the writer picks its synchronous one).
        pragmas: statements run on each new SQLite connection.
        max_batch: commands committed together at most.
    """

    def __init__(
        self, url: URL, *, pragmas: Sequence[str] = (), max_batch: int = MAX_BATCH
    ) -> None:
        self.url = sync_url(url)
        self.max_batch = max_batch
        self.memory = Memory()
        """What the writer remembers between batches (for tests and the curious: read only)."""
        self._pragmas = tuple(pragmas)
        self._engine: Engine | None = None
        self._statements: Statements | None = None
        self._connection: Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._queue: deque[_Work[Any]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None

    @property
    def engine(self) -> Engine:
        """The writer's own engine (made on first use)."""
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    async def run(
        self,
        work: Callable[[Batch], T],
        *,
        channel_id: str,
        notice_ids: Collection[Any] = (),
        publisher: Publisher | None = None,
    ) -> T:
        """Queue ``work`` for the next batch; return its result once committed and published.

        Args:
            work: the command, run in the writer's thread against the batch; it may raise
                a ``Refusal``, which then reaches the caller.
            channel_id: the channel it addresses (locked for the batch).
            notice_ids: the notices it will look up (read for the whole batch at once).
            publisher: where its events go once committed.

        The command runs and is published even if the caller stops waiting for it.
        """
        loop = asyncio.get_running_loop()
        wakeup, idle = self._start(loop)
        future: asyncio.Future[T] = loop.create_future()
        item = _Work(work, channel_id, notice_ids, publisher, future)
        self._queue.append(item)
        idle.clear()
        wakeup.set()
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Event, asyncio.Event]:
        running = self._loop is loop and self._task is not None and not self._task.done()
        if running and self._wakeup is not None and self._idle is not None:
            return self._wakeup, self._idle
        # First command, or a new event loop (a test, a second asyncio.run): the thread
        # and its connection carry on; the queue's waiting is the new loop's.
        self._loop = loop
        self._wakeup, self._idle = asyncio.Event(), asyncio.Event()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotline-writer")
        self._task = loop.create_task(self._serve(loop, self._wakeup, self._idle), name="writer")
        return self._wakeup, self._idle

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, wakeup: asyncio.Event, idle: asyncio.Event
    ) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            while self._queue:
                size = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(size)]
                await loop.run_in_executor(self._thread, self._commit, batch)
                await self._publish(batch)
                for item in batch:
                    if item.future.done():  # its caller was cancelled
                        continue
                    if item.error is not None:
                        item.future.set_exception(item.error)
                    else:
                        item.future.set_result(item.result)
            idle.set()

    async def _publish(self, batch: list[_Work[Any]]) -> None:
        # In commit order, and per channel as one run of events with the root after the
        # last: one signed checkpoint a channel a batch, however many commands it held.
        runs: dict[tuple[int, str], tuple[Publisher, list[schemas.Event], bytes]] = {}
        for item in batch:
            if item.publisher is None or item.error is not None or item.result is None:
                continue
            if not item.result.events or item.result.root is None:
                continue
            key = (id(item.publisher), item.channel_id)
            _, events, _ = runs.get(key, (item.publisher, [], b""))
            runs[key] = (item.publisher, [*events, *item.result.events], item.result.root)
        for publisher, events, root in runs.values():
            try:
                await publisher.publish(events, root=root)
            except Exception:  # a socket's trouble must not undo an answer already due
                log.exception("publishing committed events failed")

    # -- in the writer's thread ----------------------------------------------------------

    def _commit(self, batch: list[_Work[Any]]) -> None:
        try:
            self._attempt(batch)
        except Exception as error:
            self.memory.forget_all()
            self._drop_connection()
            if len(batch) > 1:
                log.warning(
                    "a batch failed; running its commands one by one",
                    extra={"commands": len(batch), "error": type(error).__name__},
                )
                for item in batch:
                    item.result = item.error = None
                    self._commit([item])
                return
            item = batch[0]
            if self._integrity_error(error) and not item.retried:
                # On PostgreSQL two processes may insert one new notice id in two channels
                # at once (each locks only its channel). Once more: the rules now see it.
                item.retried = True
                self._commit([item])
                return
            item.result, item.error = None, error

    def _attempt(self, batch: list[_Work[Any]]) -> None:
        connection = self._connect()
        with connection.begin():
            ledger = Batch(
                connection,
                self.memory,
                self._prepared(),
                channel_ids={item.channel_id for item in batch},
                notice_ids={i for item in batch for i in item.notice_ids},
            )
            for item in batch:
                try:
                    item.result = item.run(ledger)
                except Refusal as refusal:  # decided before anything was written: alone
                    item.error = refusal
            ledger.write()
        ledger.remember()

    def _integrity_error(self, error: Exception) -> bool:
        # From a statement run through SQLAlchemy, or one handed to the driver directly.
        driver = self.engine.dialect.loaded_dbapi
        return isinstance(error, IntegrityError | driver.IntegrityError)

    def _prepared(self) -> Statements:
        if self._statements is None:
            self._statements = Statements(self.engine.dialect)
        return self._statements

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect()
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # it failed already; a new one is made for the next batch
                log.debug("closing a failed writer connection", exc_info=True)
            self._connection = None

    def _make_engine(self) -> Engine:
        if self.url.get_backend_name() != "sqlite":
            return create_engine(self.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
        engine = create_engine(self.url, pool_size=1, max_overflow=0)
        pragmas = self._pragmas

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below start every transaction, not the driver.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # The write lock from the start: nothing the batch reads can change under it.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _close_in_thread(self) -> None:
        self._drop_connection()
        if self._engine is not None:
            self._engine.dispose()

    async def close(self) -> None:
        """Finish what is queued, then close the connection and stop the thread."""
        task, idle = self._task, self._idle
        if task is not None and idle is not None and self._loop is asyncio.get_running_loop():
            if not task.done():
                await idle.wait()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._task = None
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_in_thread)
            self._thread.shutdown(wait=True)
            self._thread = None
