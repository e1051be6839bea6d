"""The demo channel on a hand-moved clock, with an admin on each side and a socket in memory.

Shared by the API tests of the policy, the liveness checks and the conflicting plans:

- :func:`clocked` builds the app on a :class:`~server.clock.ManualClock` without its
  lifespan, so that the scheduler's own loop never runs: a test moves the clock and fires
  what is due itself (:meth:`Line.fire_at`), at the moment it chooses. Besides the demo's
  operators (ana, ben: water; carla, dev: roads) there are two admins, wanda (water) and
  raj (roads), and a channel of two other parties, ``gas-parks``, that nobody here sees;
- :class:`Socket` speaks the WebSocket protocol to the app in process, through ASGI
  messages on two queues: no network, no thread. Every wait is bounded by :data:`STEP`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from client.protocol.messages import parse_server_message
from client.protocol.vocabulary import Role
from server.app import create_app
from server.clock import ManualClock
from server.config import Settings
from server.service import access, admin, demo
from server.service.scheduler import Scheduler
from server.store.db import Database
from tests.integration.conftest import Api

__all__ = ["OTHERS", "START", "STEP", "Line", "Socket", "clocked"]

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
"""What the clock shows when each test begins."""
STEP = 10.0
"""Seconds any one message may take."""
OTHERS = "gas-parks"
"""A channel of two other parties: not the demo operators' to see."""
ADMINS = (("wanda", "water", "Wanda Price"), ("raj", "roads", "Raj Mehta"))
"""An admin of each party, as the demo has them."""

Message = dict[str, Any]


@dataclass
class Line:
    """The app on a hand-moved clock, its REST API, and the scheduler's pass."""

    api: Api
    app: FastAPI
    db: Database
    clock: ManualClock

    async def fire_at(self, moment: datetime) -> list[Message]:
        """Move the clock to ``moment`` and fire what is due; returns the events, as JSON."""
        self.clock.set(moment)
        scheduler: Scheduler = self.app.state.scheduler
        return [event.model_dump(mode="json") for event in await scheduler.fire_due()]

    def advance(self, span: timedelta) -> datetime:
        """Move the clock on by ``span`` without firing anything; returns the new time."""
        return self.clock.advance(span)

    @asynccontextmanager
    async def socket(self, operator: str) -> AsyncIterator[Socket]:
        """A socket to the app that said ``hello`` as ``operator`` and was welcomed."""
        async with Socket.open(self.app) as socket:
            await socket.send({"type": "hello", "token": self.api.tokens[operator]})
            welcome = await socket.receive()
            assert welcome["type"] == "welcome", welcome
            yield socket


@asynccontextmanager
async def clocked(db: Database, settings: Settings) -> AsyncIterator[Line]:
    """The demo channel, two admins and the ``gas-parks`` channel, on a clock at :data:`START`."""
    operators = await demo.seed(db)
    tokens = {o.id: o.token for o in operators}
    for operator_id, party, name in ADMINS:
        if operator_id not in tokens:  # a demo without admins of its own
            await admin.create_operator(db, operator_id, party=party, name=name, role=Role.ADMIN)
            _, tokens[operator_id] = await access.issue_token(db, operator_id)
    await admin.create_party(db, "gas", name="Gas Works")
    await admin.create_party(db, "parks", name="Parks Department")
    await admin.create_channel(db, OTHERS, parties=("gas", "parks"))
    clock = ManualClock(START)
    app = create_app(settings, db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the scheduler's loop never runs
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield Line(Api(client, tokens), app, db, clock)


class Socket:
    """One WebSocket connection to an ASGI app in process, spoken in JSON.

    Every message the server sends is checked against the protocol's own schemas.
    """

    def __init__(self) -> None:
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.events: list[Message] = []
        """Every ``event`` message's event received so far, in order."""

    @classmethod
    @asynccontextmanager
    async def open(cls, app: FastAPI) -> AsyncIterator[Socket]:
        """Connect to ``/api/v1/ws``; on leaving, disconnect and wait for the app to finish."""
        socket = cls()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/api/v1/ws",
            "raw_path": b"/api/v1/ws",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"hotline.test")],
            "server": ("hotline.test", 80),
            "client": ("127.0.0.1", 40000),
            "subprotocols": [],
            "state": {},
        }
        served = asyncio.create_task(app(scope, socket._to_app.get, socket._from_app.put))
        await socket._to_app.put({"type": "websocket.connect"})
        try:
            accepted = await socket._next()
            assert accepted["type"] == "websocket.accept", accepted
            yield socket
        finally:
            await socket._to_app.put({"type": "websocket.disconnect", "code": 1000})
            async with asyncio.timeout(STEP):
                await served

    async def _next(self) -> Message:
        async with asyncio.timeout(STEP):
            return await self._from_app.get()

    async def send(self, message: Message) -> None:
        """Send one message, as a text frame."""
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> Message:
        """The next message from the server; an ``event`` is also kept in :attr:`events`."""
        frame = await self._next()
        assert frame["type"] == "websocket.send", frame
        message: Message = json.loads(frame["text"])
        parse_server_message(frame["text"])  # raises if it breaks the protocol
        if message["type"] == "event":
            self.events.append(message["event"])
        return message

    async def receive_until(self, done: Callable[[Message], bool]) -> Message:
        """Receive until a message satisfies ``done``; returns that message."""
        while not done(message := await self.receive()):
            pass
        return message

    async def subscribe(self, channel: str = demo.CHANNEL, after: int = 0) -> None:
        """Subscribe to ``channel`` and read the events it has up to its head."""
        await self.send({"type": "subscribe", "channel": channel, "after": after})
        subscribed = await self.receive_until(lambda m: m["type"] == "subscribed")
        head = subscribed["head"]
        while (self.events[-1]["seq"] if self.events else after) < head:
            await self.receive()

    async def command(self, message: Message) -> Message:
        """Send a command and return its ``result`` or ``error`` (events on the way are kept)."""
        await self.send(message)
        ref = message["ref"]
        return await self.receive_until(
            lambda m: m["type"] in {"result", "error"} and m.get("ref") == ref
        )
