"""Helpers for the end-to-end tests of the server's clock: a channel whose chase takes seconds.

- :func:`prepare` migrates a database and makes the demo's channel with :data:`QUICK`, a
  policy under which an urgent notice is overdue two seconds after it is sent and chased
  within seconds more; ``hotline demo`` then keeps that channel and adds its operators;
- :class:`Watcher` follows a channel over a server's WebSocket and waits for events;
- :func:`chase_of` reads a notice's chase out of a log, :func:`dues_left` counts the due
  actions still waiting in the database.

Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from websockets.asyncio.client import connect

from client.protocol.vocabulary import Priority
from server.domain.model import Chase, Policy
from server.service import admin, demo
from server.store.db import Database
from server.store.migrate import upgrade
from tests.e2e.ws_helpers import STEP, Message, Peer

__all__ = [
    "CHASE_KINDS",
    "QUICK",
    "Watcher",
    "chase_of",
    "count",
    "dues_left",
    "prepare",
    "read_whole_log",
    "send_urgent",
    "until_all",
    "watching",
]

QUICK = Policy(
    ack_deadlines={**Policy().ack_deadlines, Priority.URGENT: timedelta(seconds=2)},
    chase={
        **Policy().chase,
        Priority.URGENT: Chase(
            remind_after=timedelta(seconds=2),
            remind_every=timedelta(seconds=3),
            reminders=2,
            escalate_after=timedelta(seconds=6),
        ),
    },
    escalate_to={"roads": ("dev",)},
)
"""Urgent notices: due 2 s after sending; reminded 2 s and 5 s after that; escalated at 6 s."""

CHASE_KINDS = ("notice.overdue", "notice.reminded", "notice.escalated")


async def prepare(database_url: str, policy: Policy = QUICK) -> None:
    """Migrate the database and make the demo's parties and channel, under ``policy``."""
    db = Database(database_url)
    try:
        await upgrade(db)
        for party_id, name in demo.PARTIES.items():
            await admin.create_party(db, party_id, name=name)
        await admin.create_channel(db, demo.CHANNEL, parties=("water", "roads"), policy=policy)
    finally:
        await db.dispose()


async def dues_left(database_url: str) -> int:
    """How many due actions the database still holds (0: the clock has nothing left to do)."""
    db = Database(database_url)
    try:
        async with db.session() as session:
            return int(
                (await session.execute(text("SELECT count(*) FROM due_actions"))).scalar_one()
            )
    finally:
        await db.dispose()


async def send_urgent(url: str, token: str, channel: str = demo.CHANNEL) -> dict[str, Any]:
    """Send an urgent notice over REST; returns the notice as answered."""
    async with httpx.AsyncClient(base_url=url, timeout=STEP) as http:
        response = await http.post(
            f"/api/v1/channels/{channel}/notices",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "id": str(uuid.uuid4()),
                "subject": "Burst main, Mill Lane",
                "priority": "urgent",
            },
        )
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def read_whole_log(url: str, token: str, channel: str = demo.CHANNEL) -> list[Message]:
    """A channel's whole log, over REST."""
    events: list[Message] = []
    async with httpx.AsyncClient(base_url=url, timeout=STEP) as http:
        while True:
            response = await http.get(
                f"/api/v1/channels/{channel}/events",
                headers={"Authorization": f"Bearer {token}"},
                params={"after": events[-1]["seq"] if events else 0, "limit": 1000},
            )
            assert response.status_code == 200, response.text
            page = response.json()["events"]
            if not page:
                return events
            events.extend(page)


class Watcher:
    """One WebSocket subscription to a channel: every event it pushed, and waits on them."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @property
    def events(self) -> list[Message]:
        """The events received so far (catch-up first, then live), in log order."""
        return self.peer.events

    async def until(self, done: Callable[[Sequence[Message]], bool], *, within: float) -> None:
        """Receive until ``done(events so far)`` holds; fail after ``within`` seconds."""
        if done(self.events):
            return
        await self.peer.receive_until(lambda _: done(self.events), within=within)


async def until_all(
    watchers: Sequence[Watcher], done: Callable[[], bool], *, within: float
) -> None:
    """Receive on every watcher at once until ``done()`` holds; fail after ``within`` seconds.

    What is awaited may come on any of the sockets, whichever comes first.
    """
    news = asyncio.Event()

    async def follow(watcher: Watcher) -> None:
        while True:
            await watcher.peer.receive(within=within)
            news.set()

    followers = [asyncio.create_task(follow(watcher)) for watcher in watchers]
    try:
        async with asyncio.timeout(within):
            while not done():
                news.clear()
                waiter = asyncio.create_task(news.wait())
                finished, _ = await asyncio.wait(
                    [waiter, *followers], return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                for task in finished - {waiter}:
                    task.result()  # a follower ends only by failing: say why
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


@asynccontextmanager
async def watching(url: str, token: str, channel: str = demo.CHANNEL) -> AsyncIterator[Watcher]:
    """Subscribe to ``channel`` from its first event on the server at ``url``."""
    ws_url = "ws://" + urlsplit(url).netloc + "/api/v1/ws"
    async with connect(ws_url, open_timeout=STEP, close_timeout=STEP, proxy=None) as connection:
        peer = Peer(connection)
        await peer.hello(token)
        await peer.subscribe(channel, 0)
        yield Watcher(peer)


def chase_of(log: Sequence[Message], notice: str) -> list[tuple[str, str, int | None]]:
    """What the clock logged about a notice: ``(type, due_at, reminder number)``, in log order."""
    return [
        (event["type"], event["data"]["due_at"], event["data"].get("reminder"))
        for event in log
        if event["type"] in CHASE_KINDS and event["data"]["notice"] == notice
    ]


def count(events: Sequence[Message], kind: str) -> int:
    """How many of ``events`` are of type ``kind``."""
    return sum(1 for event in events if event["type"] == kind)
