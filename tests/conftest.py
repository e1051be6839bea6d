"""Fixtures for every kind of test that needs a database: SQLite, and PostgreSQL when given.

A test that takes ``database_url`` runs twice: once on a fresh SQLite file, once on a fresh
PostgreSQL database (created from ``HOTLINE_TEST_POSTGRES_URL`` and dropped afterwards).
Where that variable is not set the PostgreSQL run is skipped, saying so, unless
``HOTLINE_REQUIRE_POSTGRES`` is set (as in CI), when it fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.smtp import Mailbox, running_mailbox

POSTGRES_ENV = "HOTLINE_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url and os.environ.get("HOTLINE_REQUIRE_POSTGRES"):
        pytest.fail(f"HOTLINE_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
    if not server_url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
        )
    yield from _fresh_postgres_database(server_url)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent: tests/smtp.py."""
    with running_mailbox() as box:
        yield box


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    base = make_url(server_url)
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
