"""The database: one async engine per process, SQLite or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit that returned is on disk, which
is what guarantee 1 (durable) promises. Commands are written by one writer per process
(``server/store/writer.py``) on a connection of its own; everything else reads and writes
through the async engine here. Writers of other processes (``hotline admin``) wait for each
other through SQLite's busy timeout rather than failing.

A PostgreSQL server can go away (restarted, failed over, the network cut) and come back;
Hotline must carry on by itself. :func:`is_unavailable` tells such an error from any
other, whichever driver raised it, so that a request is answered ``503`` and a background
loop waits for the next pass (``server/api/unavailable.py``). The pool needs no restart:

- an error on a connection that was lost (SQLAlchemy's "disconnect") throws away every
  connection the pool held before it, so that the next checkout connects afresh;
- a connection that sat idle in the pool for :data:`PING_AFTER_IDLE_S` or more is pinged
  when taken out, and replaced, with all the others, if the ping fails: so the first
  request after a restart that no request saw does not meet a dead connection.
  SQLAlchemy's ``pool_pre_ping`` pings on every checkout instead; its ping is three
  round trips (``BEGIN``, an empty query, ``ROLLBACK``) and measured about 0.25 ms of CPU
  a checkout, some 10% of a simple ``GET``, to protect against what only an idle pool
  can miss: under load, the outage's own errors have renewed the pool already.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.clock import Clock, SystemClock
from server.store.identities import IdentityCache
from server.store.links import CONNECT_TIMEOUT_S
from server.store.writer import Writer

__all__ = ["Database", "DatabaseUnavailable", "async_url", "is_unavailable"]

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def async_url(url: str | URL) -> URL:
    """Name the async driver for a plain database URL (``sqlite:///x.db``, ``postgresql://…``).

    Raises:
        ValueError: the URL names a database Hotline does not support.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


PING_AFTER_IDLE_S = 1.0
"""A pooled connection idle this long is pinged before it is used (see the module's docstring)."""

UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})
"""PostgreSQL's SQLSTATEs for "going away" besides class 08 (connection exception): an
administrator's shutdown, a crash shutdown, and "cannot connect now" (starting up or
shutting down)."""


class DatabaseUnavailable(Exception):
    """The engine could not connect to the database: refused, timed out, or no such host.

    Raised from the driver's own error (``__cause__``), which is a plain ``OSError`` that
    says nothing of where it came from.
    """


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached right now.

    True for a failed connection attempt, a connection lost or terminated, and a server
    shutting down or starting up: whatever goes away when the database is back. False
    for everything else, a constraint broken or a bad statement among them. Looks through
    the chain of causes, where the drivers put their own errors.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable):
            return True
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in UNAVAILABLE_STATES):
            return True
        # psycopg's errors without a SQLSTATE are its own: a connection that failed, was
        # closed, or broke mid-way (the writer's, ``server/store/links.py``).
        if isinstance(current, psycopg.OperationalError) and current.sqlstate is None:
            return True
        current = current.__cause__ or current.__context__
    return False


def _watch_for_restarts(engine: AsyncEngine) -> None:
    """Make ``engine``'s pool say why it cannot connect, and ping idle connections."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as error:  # refused, timed out, unknown host: asyncpg's own
            raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error

    @event.listens_for(sync_engine, "checkin")
    def _idle_since(_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _ping_if_idle(connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            sync_engine.dialect.do_ping(connection)
        except Exception as error:
            # Lost: so are the others of its age. The pool connects afresh, once.
            raise exc.InvalidatePoolError(f"an idle connection was lost: {error}") from error


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class Database:
    """An engine, its session factory and what this process remembers of the database.

    Cheap to create; connects lazily.

    Args:
        url: the database.
        echo: log every statement of the engine (not the writer's).
        clock: where every command reads the time; the system's clock by default.
    """

    def __init__(self, url: str | URL, *, echo: bool = False, clock: Clock | None = None) -> None:
        self.url = async_url(url)
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(self.url, echo=echo)
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        else:
            self.engine = create_async_engine(
                self.url, echo=echo, connect_args={"timeout": CONNECT_TIMEOUT_S}
            )
            _watch_for_restarts(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writer = Writer(
            self.url, pragmas=SQLITE_PRAGMAS if self.is_sqlite else (), clock=clock or SystemClock()
        )
        """The one owner of this process's write connection: every command goes through it."""
        self.identities = IdentityCache(self)
        """Who each token belongs to, remembered while the access counter stands still."""

    @property
    def clock(self) -> Clock:
        """Where commands and the scheduler read the time (a test sets one it moves by hand)."""
        return self.writer.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.writer.clock = clock

    @property
    def is_sqlite(self) -> bool:
        """Whether this is a SQLite database (one writer at a time, file locks)."""
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that rolls back whatever was not committed when the block ends."""
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Finish the commands queued, then close every connection."""
        await self.writer.close()
        await self.identities.close()
        await self.engine.dispose()
