"""Reading the access counter as cheaply as each database allows.

The ``access`` row of ``counters`` moves in the transaction of every change to who may
log in (migration 0005). A process reads it on every request, to learn whether the
identities it remembers still hold, so the read must cost next to nothing and must see
every transaction committed before it began, in any process:

- **SQLite**: a plain ``sqlite3`` connection of its own, opened read-only on the same
  file and used from the event loop's thread. In WAL mode a read never waits for the
  writer, and a one-row lookup by primary key takes a few microseconds: less than handing
  it to a thread would. Each read is its own read transaction (autocommit), so it sees the
  last commit; it is never left open, so it never holds back a checkpoint.
- **PostgreSQL**: one connection held for it, driven through asyncpg directly with a
  statement prepared once. SQLAlchemy would wrap the query in ``BEGIN`` and ``ROLLBACK``,
  three round trips instead of one. A connection runs one query at a time, so requests
  that arrive while a read is on the wire share the next read, which begins after they all
  arrived: one round trip answers them all, however many there are.

``read()`` answers ``None`` when it cannot read the counter (no database file yet, the
database restarting, a schema older than 0005): the caller must then ask the database
itself rather than trust what it remembers.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.store.availability import is_unavailable

__all__ = ["AccessCounter", "access_counter"]

log = logging.getLogger(__name__)

READ = "SELECT value FROM counters WHERE name = 'access'"
"""The one query, written once for both drivers (the table is ``CounterRow``)."""


class AccessCounter(Protocol):
    """Reads the access counter; ``None`` when it cannot be read."""

    async def read(self) -> int | None:
        """The counter's value as of now, or ``None`` if it cannot be read."""
        ...

    async def close(self) -> None:
        """Close the connection held for reading."""
        ...


def access_counter(engine: AsyncEngine) -> AccessCounter:
    """The cheapest reader of the access counter for this engine's database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return _PostgresCounter(engine)
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return _Unreadable()  # no file another connection could open: never trust a memory
    return _SqliteCounter(Path(database))


class _Unreadable:
    """A database the counter cannot be read from on the side."""

    async def read(self) -> int | None:
        return None

    async def close(self) -> None:
        pass


class _SqliteCounter:
    """Reads through a read-only ``sqlite3`` connection, on the calling thread."""

    def __init__(self, path: Path) -> None:
        self._uri = path.resolve().as_uri() + "?mode=ro"
        self._connection: sqlite3.Connection | None = None

    async def read(self) -> int | None:
        try:
            if self._connection is None:
                # timeout=0: a read that would wait (only while SQLite rebuilds its WAL
                # index) answers None at once rather than stalling the event loop.
                self._connection = sqlite3.connect(
                    self._uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
                )
            rows = self._connection.execute(READ).fetchall()
        except sqlite3.Error:
            await self.close()  # opened again on the next read
            return None
        return int(rows[0][0]) if rows else None

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _PostgresCounter:
    """Reads over one connection of the engine's, through asyncpg, in shared rounds."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._statement: Any = None  # asyncpg's PreparedStatement
        self._raw: Any = None  # the asyncpg connection it was prepared on
        self._next: asyncio.Future[int | None] | None = None
        """What the next read will answer, to every request that arrived before it began."""
        self._rounds: asyncio.Task[None] | None = None
        self._failing = False

    async def read(self) -> int | None:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        answer = self._next
        if self._rounds is None:
            self._rounds = asyncio.create_task(self._run_rounds(), name="access counter")
        # Shielded: a request that gives up waiting must not cancel the others' answer.
        return await asyncio.shield(answer)

    async def _run_rounds(self) -> None:
        try:
            while self._next is not None:
                # Taken before the query is sent: whoever arrives from now on waits for
                # the next round, whose query begins after they arrived.
                answer, self._next = self._next, None
                value: int | None = None
                try:
                    value = await self._read_once()
                finally:  # cancelled (closing) too: the waiters then ask the database
                    if not answer.done():
                        answer.set_result(value)
        finally:
            self._rounds = None

    async def _read_once(self) -> int | None:
        try:
            if self._statement is None:
                self._connection = await self._engine.connect()
                asyncpg_connection = (await self._connection.get_raw_connection()).driver_connection
                assert asyncpg_connection is not None  # the engine's pool connected it
                self._raw = asyncpg_connection
                self._statement = await asyncpg_connection.prepare(READ)
            value = await self._statement.fetchval()
        except Exception as error:  # any failure means "cannot tell"; the caller asks the database
            if not self._failing:
                log.warning(
                    "cannot read the access counter; asking for each token",
                    exc_info=None if self._lost(error) else error,
                )
            self._failing = True
            await self._drop()
            return None
        if self._failing:
            log.info("reading the access counter again")
        self._failing = False
        return None if value is None else int(value)

    def _lost(self, error: BaseException) -> bool:
        """Whether ``error`` came of the database going away: a known outage, or the
        kept statement's connection found closed (asyncpg may then raise an internal
        error that says nothing more)."""
        if is_unavailable(error):
            return True
        return self._raw is not None and self._raw.is_closed()

    async def _drop(self) -> None:
        """Forget the connection, which may be broken; the next read opens another."""
        connection, self._connection, self._statement = self._connection, None, None
        self._raw = None
        if connection is not None:
            try:
                await connection.invalidate()
            except Exception:  # already broken: nothing more to release
                log.debug("invalidating the access counter's connection failed", exc_info=True)

    async def close(self) -> None:
        if self._rounds is not None:
            self._rounds.cancel()
            await asyncio.gather(self._rounds, return_exceptions=True)
        if self._next is not None and not self._next.done():
            self._next.set_result(None)
        self._next = None
        connection, self._connection, self._statement = self._connection, None, None
        self._raw = None
        if connection is not None:
            await connection.close()
