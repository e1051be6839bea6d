"""The revocation watch of ``server/app.py`` on a real database, with stand-in connections.

The whole path, real sockets and the admin command included, is in
``tests/e2e/test_revocation.py``; this one looks at the loop itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from client.protocol import schemas
from server.app import _watch_revocations
from server.fanout import Hub
from server.keys import LogKeys
from server.service import access, admin
from server.service.log import Checkpoints
from server.store.db import Database

WAIT = 10.0  # seconds: a bound on each wait, far above the watch's interval here
EVERY = 0.01


class Standin:
    """A connection as the hub sees it; ``told`` is set when it is told to close."""

    def __init__(self, token_id: uuid.UUID) -> None:
        self.party, self.operator, self.token_id = "water", "ana", token_id
        self.told = asyncio.Event()

    def offer_event(self, event: schemas.Event, text: str) -> None:
        pass

    def offer_presence(self, text: str) -> None:
        pass

    def token_revoked(self) -> None:
        self.told.set()


async def test_the_watch_closes_only_the_revoked_tokens_connections_even_if_they_came_late(
    db: Database, tmp_path: Path
) -> None:
    await admin.create_party(db, "water", name="Riverside Water")
    await admin.create_operator(db, "ana", party="water", name="Ana Lopez")
    early, late, kept = [(await access.issue_token(db, "ana"))[0] for _ in range(3)]
    hub = Hub(Checkpoints(LogKeys.load_or_create(tmp_path / "log.key", name="hotline.test")))
    first, second = Standin(early), Standin(kept)
    hub.connect(first)
    hub.connect(second)
    watch = asyncio.create_task(_watch_revocations(db, hub, EVERY))
    try:
        # Revoked before its connection registers: found by the next look all the same.
        assert await access.revoke(db, token_id=late) == 1
        newcomer = Standin(late)
        hub.connect(newcomer)
        assert await access.revoke(db, token_id=early) == 1

        async with asyncio.timeout(WAIT):
            await first.told.wait()
            await newcomer.told.wait()
        assert not second.told.is_set()
        assert not watch.done()  # the watch goes on
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
