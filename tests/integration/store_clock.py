"""The demo channel on a hand-moved clock, driven through the service layer (no HTTP).

Shared by the store's tests of the clock, the policy, liveness checks and conflicting
plans: a test moves the :class:`~server.clock.ManualClock` and fires what is due itself
(:func:`fire`), as the scheduler's pass would, at the moment it chooses. Besides the
demo's operators (ana, ben: water; carla, dev: roads) each party has an admin, wanda
(water) and raj (roads).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from client.protocol import schemas
from client.protocol.vocabulary import Priority, Role
from server.clock import ManualClock
from server.domain import rules
from server.domain.errors import Conflict
from server.domain.model import ActivityWindow, Actor, NoticeContent, Policy
from server.service import admin, commands, demo
from server.store.db import Database
from server.store.migrate import upgrade
from server.store.models import DueActionRow
from server.store.repository import Repository

__all__ = [
    "ANA",
    "BEN",
    "CARLA",
    "CHANNEL",
    "DEV",
    "RAJ",
    "START",
    "WANDA",
    "clocked_database",
    "dues",
    "fire",
    "log",
    "moved",
    "plan",
    "send",
    "types",
]

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
"""What the clock shows when each test begins (a Saturday morning)."""
CHANNEL = demo.CHANNEL
ANA = Actor("water", "ana", Role.OPERATOR)
BEN = Actor("water", "ben", Role.OPERATOR)
CARLA = Actor("roads", "carla", Role.OPERATOR)
DEV = Actor("roads", "dev", Role.OPERATOR)
WANDA = Actor("water", "wanda", Role.ADMIN)
RAJ = Actor("roads", "raj", Role.ADMIN)


@asynccontextmanager
async def clocked_database(
    url: str, *, policy: Policy | None = None, clock: ManualClock | None = None
) -> AsyncIterator[Database]:
    """A migrated database with the demo on a hand-moved clock (``db.clock``)."""
    db = Database(url, clock=clock or ManualClock(START))
    try:
        await upgrade(db)
        if policy is not None:  # the demo keeps a channel that exists already
            for party_id, name in demo.PARTIES.items():
                await admin.create_party(db, party_id, name=name)
            await admin.create_channel(db, CHANNEL, parties=("water", "roads"), policy=policy)
        await demo.seed(db)
        for actor, name in ((WANDA, "Wanda Price"), (RAJ, "Raj Mehta")):
            with suppress(Conflict):  # the demo may have them already
                await admin.create_operator(
                    db, actor.operator, party=actor.party, name=name, role=Role.ADMIN
                )
        yield db
    finally:
        await db.dispose()


def moved(db: Database) -> ManualClock:
    """The database's hand-moved clock."""
    clock = db.clock
    assert isinstance(clock, ManualClock)
    return clock


async def fire(
    db: Database, at: datetime | None = None, *, limit: int = 100
) -> list[schemas.Event]:
    """Move the clock to ``at`` (if given) and fire everything due, as a scheduler's pass."""
    if at is not None:
        moved(db).set(at)
    fired: list[schemas.Event] = []
    while True:
        outcome = await commands.fire_due(db, limit=limit)
        fired.extend(outcome.events)
        if outcome.claimed < limit:
            return fired


async def send(
    db: Database,
    actor: Actor = ANA,
    *,
    subject: str = "Water main renewal, Mill Lane",
    priority: Priority = Priority.URGENT,
    **content: Any,
) -> commands.Outcome:
    """Send a notice (urgent unless told: due an hour after it is sent, by default)."""
    command = rules.SendNotice(
        uuid.uuid4(), NoticeContent(subject=subject, priority=priority, **content)
    )
    return await commands.execute(db, command, channel_id=CHANNEL, actor=actor)


def plan(db: Database, *, days: float, hours: float, area: str = "Mill Lane") -> dict[str, Any]:
    """A notice's content for works ``days`` from now lasting ``hours``, in ``area``."""
    starts = db.clock.now() + timedelta(days=days)
    return {
        "activity": ActivityWindow(starts, starts + timedelta(hours=hours)),
        "area": area,
        "priority": Priority.ROUTINE,
    }


async def log(db: Database, channel_id: str = CHANNEL) -> list[schemas.Event]:
    """A channel's whole log, as served."""
    async with db.session() as session:
        return await Repository(session).log(channel_id, after=0, limit=100_000)


def types(events: list[schemas.Event]) -> list[str]:
    """The events' types, in order."""
    return [str(event.type) for event in events]


async def dues(db: Database) -> list[tuple[str, uuid.UUID, int, datetime]]:
    """Every due action waiting: ``(kind, subject, n, due_at)`` in due order."""
    stmt = select(DueActionRow).order_by(DueActionRow.due_at, DueActionRow.kind)
    async with db.session() as session:
        rows = (await session.scalars(stmt)).all()
    return [(row.kind, row.subject, row.n, row.due_at) for row in rows]
