"""Fixtures for integration tests: the real app on a real database, SQLite and PostgreSQL.

Every test that takes ``api`` runs twice, as ``database_url`` does (``tests/conftest.py``):
once on a fresh SQLite file, once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from server.app import create_app
from server.config import Settings
from server.service import demo
from server.store.db import Database
from server.store.migrate import upgrade


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
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The app's settings; a test module overrides this fixture to change one."""
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        attachments_dir=tmp_path / "attachments",
    )


@pytest.fixture
async def api(db: Database, settings: Settings) -> AsyncIterator[Api]:
    """The app on a migrated database with the demo's parties, operators and channel."""
    operators = await demo.seed(db)
    app = create_app(settings, db=db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
            yield Api(client, {o.id: o.token for o in operators})
