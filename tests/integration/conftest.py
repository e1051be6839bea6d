"""Fixtures for integration tests: the real app on a real database, SQLite and PostgreSQL.

Every test that takes ``api`` runs twice: once on a fresh SQLite file, once on a fresh
PostgreSQL database (created from ``HOTLINE_TEST_POSTGRES_URL`` and dropped afterwards).
Where that variable is not set the PostgreSQL run is skipped, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from server.app import create_app
from server.config import Settings
from server.service import demo
from server.store.db import Database
from server.store.migrate import upgrade

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


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    import asyncio

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


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    database = Database(database_url)
    await upgrade(database)
    yield database
    await database.dispose()


class Api:
    """An httpx client on the app, with the demo's operators and a few shorthands."""

    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def auth(self, operator: str) -> dict[str, str]:
        """Headers that authenticate as a demo operator (ana, ben: water; carla, dev: roads)."""
        return {"Authorization": f"Bearer {self.tokens[operator]}"}

    async def get(self, operator: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(operator), **kwargs)

    async def post(self, operator: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, headers=self.auth(operator), json=body)

    async def send(
        self, operator: str, channel: str = demo.CHANNEL, **fields: Any
    ) -> httpx.Response:
        """Send a notice; ``id`` and ``subject`` are made up unless given."""
        body = {"id": str(uuid.uuid4()), "subject": "Water main renewal, Mill Lane", **fields}
        return await self.post(operator, f"/api/v1/channels/{channel}/notices", body)

    async def act(
        self, operator: str, notice_id: str, action: str, body: Any = None
    ) -> httpx.Response:
        """POST to a notice's ``receipt``, ``decision`` or ``cancellation``."""
        path = f"/api/v1/channels/{demo.CHANNEL}/notices/{notice_id}/{action}"
        return await self.post(operator, path, body)

    async def log(self, operator: str = "ana", after: int = 0) -> list[dict[str, Any]]:
        """The demo channel's whole log after ``after``."""
        events: list[dict[str, Any]] = []
        while True:
            response = await self.get(
                operator,
                f"/api/v1/channels/{demo.CHANNEL}/events",
                params={"after": after, "limit": 1000},
            )
            assert response.status_code == 200, response.text
            page = response.json()["events"]
            if not page:
                return events
            events.extend(page)
            after = page[-1]["seq"]


@pytest.fixture
async def api(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a migrated database with the demo's parties, operators and channel."""
    operators = await demo.seed(db)
    settings = Settings(database_url=database_url, log_key_file=tmp_path / "log.key")
    app = create_app(settings, db=db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
            yield Api(client, {o.id: o.token for o in operators})
