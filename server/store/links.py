"""The single writer's connection: SQLite on the event loop, PostgreSQL through async psycopg.

The writer runs on the event loop, not in a thread of its own. A thread would have to
win Python's interpreter lock back after every statement, and while the event loop is
busy (as it is when many clients are sending) each such wait lasts up to the
interpreter's switch interval, 5 ms: a batch of ten statements could wait 50 ms for
work that takes one. So each database is talked to in the way that never waits for the
interpreter:

- **SQLite** is a library in this process: a statement on an open transaction takes
  microseconds, and nothing else writes meanwhile, so the writer runs them right on the
  event loop, the commit too. The commit's fsync holds the loop for the disk's time
  (about half a millisecond here, once per batch, however many commands it holds);
  handing it to a thread measured worse, since the thread then waited up to 5 ms for the
  interpreter lock to answer (a full loop 8.9 ms against 7.6 ms inline). Only a
  ``BEGIN IMMEDIATE`` that must wait for another process's write lock (``hotline admin``)
  goes to a thread, so that the loop never waits for it.
- **PostgreSQL** is a server: every statement is a round trip, which the event loop awaits
  through psycopg's async connection while it serves other requests. A batch's writes
  depend on nothing they return, so they are held until the commit and sent with it in
  one go (psycopg's pipeline mode): the inserts, the updates and the ``COMMIT`` cost one
  round trip, not six.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.engine.url import make_url

from server.store.prepared import Prepared

__all__ = ["Link", "PostgresLink", "SqliteLink", "link_for"]

BUSY_TIMEOUT_MS = 30_000
"""How long the writer waits for another process's SQLite write lock."""
CONNECT_TIMEOUT_S = 10
"""How long the writer waits for PostgreSQL to accept a connection."""


class Link(Protocol):
    """One connection of the writer's, and its transaction."""

    dialect: Dialect
    retry_errors: tuple[type[Exception], ...]
    """Errors after which a lone command is worth one more try: a broken unique key (two
    processes inserting one new id) and, on PostgreSQL, a lost connection."""

    async def begin(self) -> None:
        """Start a transaction that may write (connecting first if need be)."""

    async def fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a query; its rows, converted, by column name."""

    async def run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement once per row, in one call (or hold it to send with the commit)."""

    async def commit(self) -> None:
        """Commit: once this returns, the transaction is durable."""

    async def rollback(self) -> None:
        """Undo the transaction, if one is open; never raises."""

    async def close(self) -> None:
        """Close the connection (a new one is made by the next ``begin``)."""


class SqliteLink:
    """The writer's SQLite connection (``sqlite3``), used on the event loop.

    Args:
        path: the database file.
        pragmas: run on the new connection.
    """

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self.path = path
        self.pragmas = tuple(pragmas)
        self._thread: ThreadPoolExecutor | None = None
        """Where a ``BEGIN`` that must wait for another process runs."""
        self.dialect = make_url("sqlite+pysqlite://").get_dialect()()
        self.retry_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit at the driver: the writer says BEGIN and COMMIT itself. Used from
            # the event loop and, for a waiting BEGIN, the thread: never both at once.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in self.pragmas:
                connection.execute(pragma)
            connection.execute("PRAGMA busy_timeout=0")  # never wait on the event loop
            self._connection = connection
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotline-commit")
        return self._connection

    def _waiting(self) -> ThreadPoolExecutor:
        if self._thread is None:
            raise RuntimeError("not connected")
        return self._thread

    async def begin(self) -> None:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            # Another process holds the write lock: wait for it in the thread, not here.
            await asyncio.get_running_loop().run_in_executor(
                self._waiting(), _begin_waiting, connection
            )

    async def fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor = self._connect().execute(prepared.sql, prepared.parameters(values))
        return [prepared.row(row) for row in cursor.fetchall()]

    async def run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        self._connect().executemany(prepared.sql, prepared.many(rows))

    async def commit(self) -> None:
        self._connect().execute("COMMIT")  # the fsync: see the module's docstring

    async def rollback(self) -> None:
        connection = self._connection
        if connection is not None and connection.in_transaction:
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:  # the connection is broken: close it, a new one comes
                await self.close()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)  # idle: the writer closes it between batches
        if connection is not None:
            connection.close()


def _begin_waiting(connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        connection.execute("BEGIN IMMEDIATE")
    finally:
        connection.execute("PRAGMA busy_timeout=0")


class PostgresLink:
    """The writer's PostgreSQL connection (psycopg, async).

    Args:
        url: the database.
    """

    def __init__(self, url: URL) -> None:
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.dialect = make_url("postgresql+psycopg://").get_dialect()()
        self.retry_errors: tuple[type[Exception], ...] = (
            psycopg.IntegrityError,
            psycopg.OperationalError,
        )
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._held: list[tuple[str, list[Any]]] = []

    async def begin(self) -> None:
        self._held = []
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self.conninfo, connect_timeout=CONNECT_TIMEOUT_S
            )
        # psycopg begins the transaction with the first statement.

    def _open(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None:
            raise RuntimeError("begin() first")
        return self._connection

    async def fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        async with self._open().cursor() as cursor:
            await cursor.execute(prepared.sql, prepared.parameters(values))
            return [prepared.row(row) for row in await cursor.fetchall()]

    async def run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        self._held.append((prepared.sql, prepared.many(rows)))  # sent with the commit

    async def commit(self) -> None:
        connection, held = self._open(), self._held
        self._held = []
        async with connection.pipeline():
            async with connection.cursor() as cursor:
                for sql, params in held:
                    await cursor.executemany(sql, params)
            await connection.commit()

    async def rollback(self) -> None:
        self._held = []
        connection = self._connection
        if connection is not None and not connection.closed:
            try:
                await connection.rollback()
            except psycopg.Error:
                await self.close()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


def link_for(url: URL, *, pragmas: Sequence[str]) -> Link:
    """The writer's link to the database at ``url``."""
    if url.get_backend_name() == "sqlite":
        return SqliteLink(url.database or ":memory:", pragmas)
    return PostgresLink(url)
