"""A database that cannot be reached is told from every other failure, and answered 503.

``is_unavailable`` (``server/store/availability.py``) reads the errors each driver raises, built
here by hand; a tiny app with the handlers of ``server/api/unavailable.py`` installed
raises them, with no database and no network (httpx talks to the app in process).
``tests/e2e/test_database_restart.py`` stops a real PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import exc

from server.api import problems, unavailable
from server.store.availability import DatabaseUnavailable, is_unavailable


def _lost() -> exc.DBAPIError:
    """SQLAlchemy's error for a statement on a connection the server closed."""
    return exc.DBAPIError(
        "SELECT 1", {}, Exception("connection is closed"), connection_invalidated=True
    )


def _chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        raise outer from inner
    except Exception as error:
        return error


UNAVAILABLE: dict[str, BaseException] = {
    "the pool could not connect": DatabaseUnavailable("cannot connect: refused"),
    "a pooled connection was lost": _lost(),
    "the writer could not connect": psycopg.OperationalError("connection failed: refused"),
    "an administrator shut the server down": psycopg.errors.AdminShutdown("terminating"),
    "the server is starting up": asyncpg.exceptions.CannotConnectNowError("starting up"),
    "a connection exception": psycopg.errors.ConnectionFailure("connection failure"),
    "a cause of another error": _chained(RuntimeError("reading failed"), _lost()),
    "asyncpg's own connection was closed": asyncpg.InterfaceError(
        "cannot call PreparedStatement.fetchval(): the underlying connection is closed"
    ),
}

OTHERS: dict[str, BaseException] = {
    "a broken unique key": exc.IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation()),
    "a deadlock (an OperationalError that a retry, not a wait, mends)": (
        psycopg.errors.DeadlockDetected("deadlock detected")
    ),
    "a bad statement": exc.ProgrammingError("SELEC 1", {}, Exception("syntax error")),
    "a refused connection of someone else's": ConnectionRefusedError(111, "refused"),
    "a bug": KeyError("notice"),
    "asyncpg used wrongly": asyncpg.InterfaceError(
        "cannot perform operation: another is in progress"
    ),
}


@pytest.mark.parametrize("error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_errors_that_pass_when_the_database_is_back_are_unavailable(error: Exception) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize("error", OTHERS.values(), ids=OTHERS.keys())
def test_other_errors_are_not(error: Exception) -> None:
    assert not is_unavailable(error)


def test_a_chain_of_causes_that_loops_is_read_to_its_end() -> None:
    error = RuntimeError("one")
    error.__context__ = ValueError("two")
    error.__context__.__context__ = error

    assert not is_unavailable(error)


def build_app() -> FastAPI:
    app = FastAPI()
    problems.install(app)
    unavailable.install(app)

    @app.get("/lost")
    async def lost() -> None:
        raise _lost()

    @app.get("/writer")
    async def writer() -> None:
        raise psycopg.OperationalError("consuming input failed: server closed the connection")

    @app.get("/duplicate")
    async def duplicate() -> None:
        raise OTHERS["a broken unique key"]

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield client


@pytest.mark.parametrize("path", ["/lost", "/writer"])
async def test_a_request_that_cannot_reach_the_database_is_answered_503_with_a_retry_after(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 503
    assert response.headers["content-type"] == problems.PROBLEM_JSON
    assert response.headers["retry-after"] == str(unavailable.RETRY_AFTER_S)
    body = response.json()
    assert body["type"] == "urn:hotline:problem:database-unavailable"
    assert body["code"] == unavailable.CODE
    assert body["title"] == "Service Unavailable"
    assert body["instance"] == path
    assert body["detail"] == unavailable.DETAIL, "nothing of the driver's words"


async def test_any_other_database_error_is_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/duplicate")

    assert response.status_code == 500
    assert response.json()["code"] == "internal-error"
    assert "retry-after" not in response.headers


async def test_an_outage_is_one_warning_not_one_a_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=unavailable.__name__):
        for _ in range(5):
            assert (await client.get("/lost")).status_code == 503

    warnings = [r for r in caplog.records if r.name == unavailable.__name__]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None, "no traceback: the cause is known"
