"""The Python SDK's subscription answers its party's liveness checks, on a hand-moved clock.

The real app, on SQLite and on PostgreSQL, in process: the SDK's REST calls go through
``httpx.ASGITransport`` and its socket through ASGI messages (:class:`InProcessSocket`),
so nothing waits for the real clock. The admins agree at ``START`` to hourly checks
answered within five minutes; each test fires the rounds itself (``Line.fire_at``).
``tests/e2e/test_answer_checks.py`` checks the same with ``hotline listen`` and a real
server process, at the price of a minute's wait.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from client import Backoff, HotlineClient, Subscription
from client.live import Connector, WebSocketLike
from client.protocol.schemas import Event
from client.protocol.vocabulary import EventType
from server.config import Settings
from server.domain.model import Policy
from server.domain.policy import policy_wire
from server.service import demo
from server.store.db import Database
from tests.integration.clocked import START, STEP, Line, clocked

CHANNEL = demo.CHANNEL
PROPOSALS = f"/api/v1/channels/{CHANNEL}/policy/proposals"
EVERY = timedelta(hours=1)
WITHIN = timedelta(minutes=5)
HOURLY = {**policy_wire(Policy()), "checks": {"every_seconds": 3600, "answer_within_seconds": 300}}
FAST = Backoff(base=0.001, cap=0.01)


class InProcessSocket:
    """A WebSocket to an ASGI app in process, as the SDK's subscription wants one."""

    def __init__(self, app: FastAPI) -> None:
        self._to_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
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
        self._served = asyncio.create_task(app(scope, self._to_app.get, self._from_app.put))
        self._closed: Close | None = None

    async def accepted(self) -> None:
        await self._to_app.put({"type": "websocket.connect"})
        async with asyncio.timeout(STEP):
            frame = await self._from_app.get()
        assert frame["type"] == "websocket.accept", frame

    async def send(self, message: str, /) -> None:
        if self._closed is not None:
            raise ConnectionClosed(self._closed, None)
        await self._to_app.put({"type": "websocket.receive", "text": message})

    async def recv(self) -> str | bytes:
        if self._closed is None:
            frame = await self._from_app.get()
            if frame["type"] == "websocket.send":
                return str(frame["text"])
            self._closed = Close(frame.get("code", 1000), frame.get("reason") or "")
        raise ConnectionClosed(self._closed, None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = Close(code, reason)
        await self._to_app.put({"type": "websocket.disconnect", "code": code})
        async with asyncio.timeout(STEP):
            await self._served


def in_process(app: FastAPI) -> Connector:
    """Opens :class:`InProcessSocket` connections to ``app`` (the URL does not matter)."""

    async def connect(url: str) -> WebSocketLike:
        socket = InProcessSocket(app)
        await socket.accepted()
        return socket

    return connect


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    """The demo channel under hourly checks, agreed by both admins at ``START``."""
    async with clocked(db, settings) as line:
        proposal = {"id": str(uuid.uuid4()), "policy": HOURLY}
        proposed = await line.api.post("wanda", PROPOSALS, proposal)
        assert proposed.status_code == 201, proposed.text
        accepted = await line.api.post("raj", f"{PROPOSALS}/{proposal['id']}/accept")
        assert accepted.status_code == 200, accepted.text
        yield line


@pytest.fixture
async def carla(line: Line) -> AsyncIterator[HotlineClient]:
    """Carla (roads) as the SDK: REST and socket to the app in process."""
    async with HotlineClient(
        "http://hotline.test",
        line.api.tokens["carla"],
        transport=httpx.ASGITransport(app=line.app),
        ws_connect=in_process(line.app),
        backoff=FAST,
        timeout=STEP,
    ) as client:
        yield client


async def next_of(live: Subscription, kind: EventType) -> Event:
    """The next event of type ``kind``; the ones before it are passed over."""
    async with asyncio.timeout(STEP):
        async for event in live:
            if event.type is kind:
                return event
    raise AssertionError(f"the subscription ended before a {kind} event")


def party_checks(fired: list[dict[str, Any]]) -> dict[str, str]:
    """Each party's check id, from the events of a round."""
    return {e["data"]["party"]: e["data"]["check"] for e in fired if e["type"] == "check.requested"}


async def test_a_subscription_told_to_answers_its_partys_check_and_not_the_other(
    line: Line, carla: HotlineClient
) -> None:
    head = (await carla.channel(CHANNEL)).head
    async with carla.subscribe([CHANNEL], after=head, answer_checks=True) as live:
        await live.wait_connected()
        asked = party_checks(await line.fire_at(START + EVERY))
        answered = await next_of(live, EventType.CHECK_ANSWERED)
        missed = await line.fire_at(START + EVERY + WITHIN)

    assert answered.actor is not None
    assert (answered.actor.party, answered.actor.operator) == ("roads", "carla")
    assert answered.data["check"] == asked["roads"]
    assert [(e["type"], e["data"]["check"]) for e in missed] == [("check.missed", asked["water"])]
    checks = {str(c.id): c for c in [c async for c in carla.checks(CHANNEL)]}
    assert checks[asked["roads"]].status == "answered"
    assert checks[asked["water"]].status == "missed"


async def test_a_check_asked_while_the_client_was_away_is_answered_when_it_catches_up(
    line: Line, carla: HotlineClient
) -> None:
    head = (await carla.channel(CHANNEL)).head
    asked = party_checks(await line.fire_at(START + EVERY))  # nobody is listening yet

    async with carla.subscribe([CHANNEL], after=head, answer_checks=True) as live:
        answered = await next_of(live, EventType.CHECK_ANSWERED)

    assert answered.data["check"] == asked["roads"]


async def test_a_replayed_check_that_was_missed_is_not_answered_and_a_new_one_is(
    line: Line, carla: HotlineClient, caplog: pytest.LogCaptureFixture
) -> None:
    first = party_checks(await line.fire_at(START + EVERY))
    await line.fire_at(START + EVERY + WITHIN)  # both missed: nobody listened

    async with carla.subscribe([CHANNEL], after=0, answer_checks=True) as live:
        await next_of(live, EventType.CHECK_MISSED)
        await next_of(live, EventType.CHECK_MISSED)  # caught up with the replay
        second = party_checks(await line.fire_at(START + 2 * EVERY))
        answered = await next_of(live, EventType.CHECK_ANSWERED)

    assert answered.data["check"] == second["roads"] != first["roads"]
    assert "could not answer" not in caplog.text  # a missed check is not answered late
