"""The demo's story (``hotline demo --story``), told through the real services on both databases.

The clock is held by hand: Thursday 3 December 2026, 15:00 UTC, so that the week after
next starts on Monday 14 December.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from client.protocol import schemas
from client.protocol.vocabulary import Role
from server.clock import ManualClock
from server.domain import rules
from server.domain.model import Actor, NoticeContent
from server.service import commands, demo, policy, queries
from server.store.db import Database
from server.store.migrate import upgrade

START = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
ANA = Actor("water", "ana", Role.OPERATOR)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database with the demo's cast, on a clock held at :data:`START`."""
    database = Database(database_url, clock=ManualClock(START))
    await upgrade(database)
    await demo.seed(database)
    yield database
    await database.dispose()


async def log(db: Database) -> list[schemas.Event]:
    return (await queries.read_log(db, ANA, demo.CHANNEL, limit=1000)).events


async def test_the_story_agrees_hourly_checks_and_logs_the_clash_in_mill_lane(
    db: Database,
) -> None:
    told = await demo.tell_story(db)

    events = await log(db)
    assert told
    assert [(e.type, e.actor and e.actor.operator) for e in events] == [
        ("channel.policy_proposed", "wanda"),
        ("channel.policy_changed", "raj"),
        ("notice.sent", "ana"),
        ("notice.sent", "carla"),
        ("conflict.detected", None),
    ]
    in_force = (await policy.show(db, ANA, demo.CHANNEL)).in_force
    assert in_force.checks is not None
    assert (in_force.checks.every_seconds, in_force.checks.answer_within_seconds) == (3600, 300)
    water, roads, clash = events[2], events[3], events[4]
    assert clash.data["notices"] == [water.data["notice"], roads.data["notice"]]
    assert clash.data["area"] == "mill lane"
    assert clash.data["overlap"] == {
        "starts_at": "2026-12-17T07:00:00.000Z",  # the roads crew arrives on Thursday
        "ends_at": "2026-12-18T17:00:00.000Z",  # the water crew leaves on Friday evening
    }


async def test_the_storys_first_checks_ask_both_parties_an_hour_after_the_policy_changed(
    db: Database,
) -> None:
    await demo.tell_story(db)
    clock = db.clock
    assert isinstance(clock, ManualClock)

    clock.advance(timedelta(hours=1))
    fired = await commands.fire_due(db)

    asked = [e.data["party"] for e in fired.events if e.type == "check.requested"]
    assert sorted(asked) == ["roads", "water"]


async def test_the_story_is_told_once_however_often_the_demo_starts(db: Database) -> None:
    await demo.tell_story(db)
    before = await log(db)

    await demo.seed(db)
    again = await demo.tell_story(db)

    assert not again
    assert await log(db) == before


async def test_a_channel_with_events_is_left_as_it_is(db: Database) -> None:
    notice = rules.SendNotice(uuid4(), NoticeContent(subject="Hydrant flushing, Elm Street"))
    await commands.execute(db, notice, channel_id=demo.CHANNEL, actor=ANA)

    told = await demo.tell_story(db)

    assert not told
    assert [e.type for e in await log(db)] == ["notice.sent"]
