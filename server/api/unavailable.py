"""While the database is away: ``503`` problem details, and a hint of when to come back.

A PostgreSQL server that restarts, fails over or drops off the network takes a second or
more to be back. Every request that needs it meanwhile fails on a connection that is
refused or lost: such a failure is not the server's fault, will pass by itself, and must
not be answered with a ``500`` and a traceback in the log. It is answered ``503 Service
Unavailable`` with the code ``database-unavailable`` and a ``Retry-After`` header, and
logged as one warning line; the pool and the writer connect afresh by themselves
(``server/store/availability.py``).

A command answered ``503`` may or may not have been carried out: its connection may have
been lost after the commit was sent and before it was confirmed. What was answered
``2xx`` is committed. So a client sends the command again, with the same ids: a notice or
a policy proposal sent twice is stored once and answered as the first time, and a
decision already taken is answered ``409`` with the first decision.

Errors that are not about reaching the database go on to the handler of every other
failure, ``500 internal-error`` (``server/api/problems.py``).
"""

from __future__ import annotations

import logging
import time

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc

from server.api.problems import problem
from server.store.availability import DatabaseUnavailable, is_unavailable

__all__ = ["CODE", "DETAIL", "RETRY_AFTER_S", "install"]

log = logging.getLogger(__name__)

CODE = "database-unavailable"
"""The problem's ``code``; the WebSocket's error message carries the same."""
DETAIL = (
    "the database cannot be reached just now; try again shortly"
    " (a command may or may not have been carried out: send it again, with the same ids)"
)
RETRY_AFTER_S = 2
"""The ``Retry-After`` a ``503`` carries: a restart of PostgreSQL takes about a second."""
WARN_EVERY_S = 10.0
"""One warning in this many seconds, however many requests fail meanwhile: the request
log has a line for each, with its status."""


class _Handler:
    """The exception handler, and when it last warned."""

    def __init__(self) -> None:
        self.warned_at: float | None = None
        self.unwarned = 0

    async def __call__(self, request: Request, error: Exception) -> JSONResponse:
        if not is_unavailable(error):
            raise error  # a bug, a constraint, a bad statement: the 500 handler's
        self._warn(error)
        response = problem(503, CODE, DETAIL, instance=request.url.path)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def _warn(self, error: Exception) -> None:
        now = time.monotonic()
        if self.warned_at is not None and now - self.warned_at < WARN_EVERY_S:
            self.unwarned += 1
            return
        log.warning(
            "the database cannot be reached; answering 503",
            extra={"error": _reason(error), "more_since_last_warning": self.unwarned},
        )
        self.warned_at, self.unwarned = now, 0


def _reason(error: BaseException) -> str:
    """The innermost error's words, on one line: what the driver said (no statement, no
    parameters, which SQLAlchemy's own message would repeat)."""
    while (inner := error.__cause__) is not None:
        error = inner
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:300]


def install(app: FastAPI) -> None:
    """Answer ``503 database-unavailable`` for what says the database cannot be reached."""
    handler = _Handler()
    for kind in (DatabaseUnavailable, exc.DBAPIError, psycopg.Error):
        app.add_exception_handler(kind, handler)
