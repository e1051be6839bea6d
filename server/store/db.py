"""The database: one async engine per process, SQLite or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit that returned is on disk, which
is what guarantee 1 (durable) promises. Commands are written by one writer per process
(``server/store/writer.py``) on a connection of its own; everything else reads and writes
through the async engine here. Writers of other processes (``hotline admin``) wait for each
other through SQLite's busy timeout rather than failing.

A PostgreSQL server may go away for a while and come back: the engine's pool carries on
by itself (``server/store/availability.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.clock import Clock, SystemClock
from server.store.availability import watch_for_restarts
from server.store.identities import IdentityCache
from server.store.links import CONNECT_TIMEOUT_S
from server.store.writer import Writer

__all__ = ["Database", "async_url"]

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
            watch_for_restarts(self.engine)
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
