"""Whether the database can be reached, and a pool that carries on when it comes back.

A PostgreSQL server can go away (restarted, failed over, the network cut) and come back;
Hotline must carry on by itself. :func:`is_unavailable` tells such an error from any
other, whichever driver raised it, so that a request is answered ``503`` rather than
``500`` (``server/api/unavailable.py``) and a background loop logs a line rather than a
traceback. The engine's pool needs no restart (:func:`watch_for_restarts`):

- an error on a connection that was lost (SQLAlchemy's "disconnect") throws away every
  connection the pool held before it, so that the next checkout connects afresh;
- a connection that sat idle in the pool for :data:`PING_AFTER_IDLE_S` or more is pinged
  when taken out, and replaced, with all the others, if the ping fails: so the first
  request after a restart that no request saw does not meet a dead connection.
  SQLAlchemy's ``pool_pre_ping`` pings on every checkout instead: three round trips
  (``BEGIN``, an empty query, ``ROLLBACK``) that measured 0.16 ms of CPU a checkout, a
  third more than a checkout and a trivial query themselves (0.48 ms) and some 5% of a
  simple ``GET``, against what only an idle pool can miss: under load, the outage's own
  errors have renewed the pool already. Looking at how long a connection was idle costs
  0.02 ms.

The writer's connection (``server/store/links.py``) is made again by the batch after one
that failed; a command whose batch lost its connection is run once more on a new one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import psycopg
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "PING_AFTER_IDLE_S",
    "UNAVAILABLE_STATES",
    "DatabaseUnavailable",
    "is_unavailable",
    "log_failure",
    "watch_for_restarts",
]

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
        # asyncpg used directly (the access counter's prepared statement) says only this
        # of a connection the server closed; SQLAlchemy's dialect reads it the same way.
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def log_failure(log: logging.Logger, what: str, error: BaseException) -> None:
    """Log that ``what`` failed and will be tried again: a warning line if the database
    cannot be reached (an outage is not a bug, and its traceback says nothing), else the
    error with its traceback."""
    if is_unavailable(error):
        log.warning(
            f"{what} failed: the database cannot be reached; it will try again",
            extra={"error": type(error).__name__},
        )
    else:
        log.error(f"{what} failed; it will try again", exc_info=error)


def watch_for_restarts(engine: AsyncEngine) -> None:
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
