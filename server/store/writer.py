"""The single writer: every command of a process, one batch at a time, one commit a batch.

Commands do not open transactions of their own. They queue here, and the writer takes
everything queued as one batch: it locks the batch's channels and reads what the commands
need (:meth:`~server.store.ledger.Batch.open`), runs each command against the batch in
plain Python (read state, let the pure domain decide, append events and tree nodes),
writes each table's rows in one statement and commits once (group commit: one fsync for
the batch). Only then is each command answered, and its events published, in commit
order. Commands that arrive while a batch is being written queue up for the next one:
the busier the server, the larger the batches and the cheaper each command.

The writer is a task on the event loop with a connection of its own
(``server/store/links.py`` says how each database is spoken to without waiting for
Python's interpreter lock). Why one writer and not many: SQLite lets one transaction
write at a time anyway, and writers that wait for its lock sleep in its busy handler.
Reads keep their own connections (``Database.session``; SQLite's WAL lets them run beside
the writer).

A batch whose writing or commit fails is rolled back whole and its commands run again one
by one, each in a batch of its own, so that one failing command fails alone. A refused
command (a :class:`~server.domain.errors.Refusal`) wrote nothing and fails alone at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import URL

from client.protocol import schemas
from server.clock import Clock, SystemClock
from server.domain.errors import Refusal
from server.domain.outbox import MailSwitch
from server.store.clockwork import Claim
from server.store.ledger import Batch, HandOff, Memory, Statements
from server.store.links import link_for
from server.store.outbox import Claimed

__all__ = ["Courier", "Needs", "Publisher", "Writer", "Written"]

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Commands committed together at most: a bound on how long one batch holds the lock."""

T = TypeVar("T", bound="Written")


class Written(Protocol):
    """What a command returns: the events it appended and each channel's root after them."""

    @property
    def events(self) -> list[schemas.Event]: ...

    @property
    def roots(self) -> Mapping[str, bytes]:
        """Per channel it appended to, the root of the tree after its last event there."""
        ...


class Courier(Protocol):
    """This process's delivery worker, as the writer sees it (``server/service/deliveries.py``)."""

    @property
    def handoff(self) -> HandOff | None:
        """Which deliveries it takes straight from a batch, leased as they are written."""
        ...

    def take(self, claimed: Sequence[Claimed]) -> None:
        """Committed deliveries leased to it: send them (called once their batch's events
        are published and its callers answered)."""
        ...

    def ring(self) -> None:
        """Committed deliveries it was not handed: look in the outbox."""
        ...


class Publisher(Protocol):
    """Where committed events go (``server.fanout.Fanout`` is one)."""

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Needs:
    """What a command will read from its batch, besides its channel, notices and keys.

    Everything a command looks at is read when the batch opens, so that the command itself
    never waits for the database; a command says here what that is.
    """

    claim: Claim | None = None
    """Due actions to claim (the clock's command)."""
    check_ids: Collection[Any] = ()
    """Checks it looks up."""
    areas: Collection[tuple[str, str]] = ()
    """``(channel, area key)`` whose active plans it compares with."""
    conflicts_of: Collection[Any] = ()
    """Notices whose open conflicts it may resolve."""


@dataclass(eq=False)
class _Work(Generic[T]):
    run: Callable[[Batch], T]
    channel_id: str | None
    notice_ids: Collection[Any]
    keys: Collection[tuple[str, str]]
    needs: Needs
    publisher: Publisher | None
    future: asyncio.Future[T]
    result: T | None = None
    error: BaseException | None = None
    retried: bool = field(default=False)


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the writer stopped", exc_info=task.exception())


class Writer:
    """The one owner of a database's write connection in this process.

    Cheap to create: the connection is made with the first command.

    Args:
        url: the database (any driver name).
        pragmas: statements run on a new SQLite connection.
        max_batch: commands committed together at most.
        clock: read once a batch has locked its channels: the time its commands stamp.
    """

    def __init__(
        self,
        url: URL,
        *,
        pragmas: Sequence[str] = (),
        max_batch: int = MAX_BATCH,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.max_batch = max_batch
        self.clock: Clock = clock or SystemClock()
        """Where a batch reads the time (the database's clock)."""
        self.mail: MailSwitch | None = None
        """Whether this server mails (set by ``create_app`` when SMTP is configured)."""
        self.courier: Courier | None = None
        """This process's delivery worker, told after each commit that wrote deliveries:
        it is handed those it takes straight from the batch, and rung for the others."""
        self.origin = ""
        """This process's name in the notifications its commits send (set by the relay,
        ``server/cluster.py``, which then skips its own)."""
        self.memory = Memory()
        """What the writer remembers between batches (for tests and the curious: read only)."""
        self.link = link_for(url, pragmas=pragmas)
        """The writer's connection (connects with the first batch)."""
        self._statements = Statements(self.link.dialect)
        self._queue: deque[_Work[Any]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._handed: list[Claimed] = []
        self._ring = False

    async def run(
        self,
        work: Callable[[Batch], T],
        *,
        channel_id: str | None,
        notice_ids: Collection[Any] = (),
        keys: Collection[tuple[str, str]] = (),
        needs: Needs = Needs(),
        publisher: Publisher | None = None,
    ) -> T:
        """Queue ``work`` for the next batch; return its result once committed and published.

        Args:
            work: the command, run against the batch without waiting; it may raise a
                ``Refusal``, which then reaches the caller.
            channel_id: the channel it addresses (locked for the batch); ``None`` for the
                clock's command, whose channels are those of the due actions it claims.
            notice_ids: the notices it will look up.
            keys: the ``(channel, operator)`` whose key in force it will look up.
            needs: what else it will look up, or claim.
            publisher: where its events go once committed.

        The command runs and is published even if the caller stops waiting for it.
        """
        loop = asyncio.get_running_loop()
        wakeup, idle = self._start(loop)
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Work(work, channel_id, notice_ids, keys, needs, publisher, future))
        idle.clear()
        wakeup.set()
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Event, asyncio.Event]:
        running = self._loop is loop and self._task is not None and not self._task.done()
        if running and self._wakeup is not None and self._idle is not None:
            return self._wakeup, self._idle
        # First command, or a new event loop (a test, a second asyncio.run): what the
        # writer remembers carries on; the queue's waiting is the new loop's.
        self._loop = loop
        self._wakeup, self._idle = asyncio.Event(), asyncio.Event()
        self._task = loop.create_task(self._serve(self._wakeup, self._idle), name="writer")
        self._task.add_done_callback(_report_death)
        return self._wakeup, self._idle

    async def _serve(self, wakeup: asyncio.Event, idle: asyncio.Event) -> None:
        batch: list[_Work[Any]] = []
        try:
            while True:
                await wakeup.wait()
                wakeup.clear()
                while self._queue:
                    size = min(len(self._queue), self.max_batch)
                    batch = [self._queue.popleft() for _ in range(size)]
                    await self._commit(batch)
                    await self._publish(batch)
                    for item in batch:
                        if item.future.done():  # its caller was cancelled
                            continue
                        if item.error is not None:
                            item.future.set_exception(item.error)
                        else:
                            item.future.set_result(item.result)
                    batch = []
                    self._hand_over()
                idle.set()
                if self._closing:
                    return
        finally:
            # Stopped from outside (the event loop shutting down): nobody may wait for ever.
            # A batch cut off mid-way may or may not have committed: its callers are told so.
            stopped = RuntimeError("the writer stopped: this command may or may not be committed")
            for item in [*batch, *self._queue]:
                if not item.future.done():
                    item.future.set_exception(stopped)
            self._queue.clear()

    def _hand_over(self) -> None:
        """Tell the courier what the batch put in the outbox: last, after the events were
        published and the callers answered, so that sending never goes before them."""
        handed, ring = self._handed, self._ring
        self._handed, self._ring = [], False
        courier = self.courier
        if courier is None:
            return
        if handed:
            courier.take(handed)  # leased to it in the batch: no claim needed
        if ring:
            courier.ring()  # others (due later, or of a kind sent elsewhere): a look

    async def _publish(self, batch: list[_Work[Any]]) -> None:
        # In commit order, and per channel as one run of events with the root after the
        # last: one signed checkpoint a channel a batch, however many commands it held.
        runs: dict[tuple[int, str], tuple[Publisher, list[schemas.Event], bytes]] = {}
        for item in batch:
            if item.publisher is None or item.error is not None or item.result is None:
                continue
            roots = item.result.roots
            for event in item.result.events:
                key = (id(item.publisher), event.channel)
                _, events, _ = runs.get(key, (item.publisher, [], b""))
                runs[key] = (item.publisher, [*events, event], roots[event.channel])
        for publisher, events, root in runs.values():
            try:
                await publisher.publish(events, root=root)
            except Exception:  # a socket's trouble must not undo an answer already due
                log.exception("publishing committed events failed")

    async def _commit(self, batch: list[_Work[Any]]) -> None:
        try:
            await self.link.begin()
        except Exception as error:
            # No connection: nothing was sent, so every command's outcome is known, and
            # running them one by one would only wait for the database that many times.
            await self.link.close()
            for item in batch:
                item.result, item.error = None, error
            return
        try:
            ledger = await self._attempt(batch)
        except Exception as error:
            await self.link.close()  # a new connection for the next batch
            if len(batch) > 1:
                log.warning(
                    "a batch failed; running its commands one by one",
                    extra={"commands": len(batch), "error": type(error).__name__},
                )
                for item in batch:
                    item.result = item.error = None
                    await self._commit([item])
                return
            item = batch[0]
            if isinstance(error, self.link.retry_errors) and not item.retried:
                # On PostgreSQL two processes may insert one new notice id in two channels
                # at once (each locks only its channel): once more, and the rules see it.
                # Or the connection was lost before the commit: once more, on a new one.
                item.retried = True
                await self._commit([item])
                return
            item.result, item.error = None, error
            return
        # Committed: only now may what the batch read and wrote be remembered.
        ledger.remember()
        if ledger.deliveries:  # for the courier, once the batch is published and answered
            self._handed.extend(ledger.handed)
            self._ring = self._ring or ledger.deliveries > len(ledger.handed)

    async def _attempt(self, batch: list[_Work[Any]]) -> Batch:
        link = self.link
        try:
            ledger = await Batch.open(
                link,
                self.memory,
                self._statements,
                clock=self.clock,
                mail=self.mail,
                handoff=None if self.courier is None else self.courier.handoff,
                origin=self.origin,
                channel_ids={item.channel_id for item in batch if item.channel_id is not None},
                notice_ids=[i for item in batch for i in item.notice_ids],
                keys={key for item in batch for key in item.keys},
                claims=[item.needs.claim for item in batch if item.needs.claim is not None],
                check_ids=[i for item in batch for i in item.needs.check_ids],
                areas=[area for item in batch for area in item.needs.areas],
                conflicts_of=[i for item in batch for i in item.needs.conflicts_of],
            )
            for item in batch:
                try:
                    item.result = item.run(ledger)
                except Refusal as refusal:  # decided before anything was written: alone
                    item.error = refusal
            await ledger.write(link)
            await link.commit()
        except BaseException:
            # Failed or cancelled: the batch moved heads and edges in memory that the
            # database does not have. Forget all of it before anything else can run.
            self.memory.forget_all()
            await link.rollback()
            raise
        return ledger

    async def close(self) -> None:
        """Commit what is queued, then close the connection (a later command reopens it)."""
        task, wakeup = self._task, self._wakeup
        self._closing = True
        try:
            if task is not None and wakeup is not None and not task.done():
                if self._loop is asyncio.get_running_loop():
                    wakeup.set()  # it finishes the queue, then returns
                    await task
                else:  # its event loop is gone: nothing can run it any more
                    task.cancel()
            self._task = None
            await self.link.close()
        finally:
            self._closing = False
