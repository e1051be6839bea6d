"""Conflicting plans through the store: detected with the send, resolved by a cancellation or
an update, kept in the ``conflicts`` table, and compared only with plans still active.

The domain's rule (``server/domain/conflicts.py``) is unit-tested on its own; these tests
check what the write path hands it: the plans of the area as the database and the batch
have them, and a plan's open conflicts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from client.protocol import schemas
from client.protocol.times import format_time
from client.protocol.vocabulary import Decision, Priority
from server.domain import rules
from server.domain.model import ActivityWindow, BoundingBox
from server.service import commands, queries
from server.store.db import Database
from tests.integration.store_clock import (
    ANA,
    BEN,
    CARLA,
    CHANNEL,
    DEV,
    START,
    clocked_database,
    moved,
    plan,
    send,
    types,
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo on a hand-moved clock, showing ``START``."""
    async with clocked_database(database_url) as database:
        yield database


def conflicts_in(events: list[schemas.Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if str(e.type).startswith("conflict.")]


async def cancel(db: Database, notice_id: uuid.UUID) -> commands.Outcome:
    return await commands.execute(db, rules.Cancel(notice_id), channel_id=CHANNEL, actor=ANA)


async def test_overlapping_plans_in_one_area_log_a_conflict_right_after_the_send(
    db: Database,
) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8, area="Mill Lane"))
    roads = await send(db, CARLA, **plan(db, days=3, hours=12, area="  mill   LANE"))

    assert types(water.events) == ["notice.sent"]
    assert types(roads.events) == ["notice.sent", "conflict.detected"]
    detected = roads.events[1]
    assert detected.actor is None
    window = water.notice.content.activity
    assert window is not None
    assert detected.data == {
        "conflict": detected.data["conflict"],
        "notices": [str(water.notice.id), str(roads.notice.id)],
        "area": "mill lane",
        "overlap": {
            "starts_at": format_time(window.starts_at),
            "ends_at": format_time(window.ends_at),
        },
    }
    [stored] = await queries.conflicts(db, DEV, CHANNEL, open=True)
    assert str(stored.id) == detected.data["conflict"]
    assert stored.notices == [water.notice.id, roads.notice.id]
    assert (stored.detected_seq, stored.detected_at) == (detected.seq, START)
    assert stored.resolved_seq is None


async def test_plans_apart_in_time_or_place_do_not_conflict(db: Database) -> None:
    first = plan(db, days=3, hours=8)
    window = first["activity"]
    await send(db, ANA, bbox=BoundingBox(0.0, 51.0, 0.1, 51.1), **first)

    after = ActivityWindow(window.ends_at, window.ends_at + timedelta(hours=2))
    touching = await send(db, CARLA, **{**plan(db, days=3, hours=8), "activity": after})
    elsewhere = await send(db, CARLA, **plan(db, days=3, hours=8, area="Station Road"))
    boxed_apart = await send(db, CARLA, bbox=BoundingBox(1.0, 51.0, 1.1, 51.1), **first)
    no_window = await send(db, CARLA, area="Mill Lane")

    for outcome in (touching, elsewhere, boxed_apart, no_window):
        assert types(outcome.events) == ["notice.sent"]
    assert await queries.conflicts(db, ANA, CHANNEL) == []


async def test_cancelling_a_plan_resolves_its_conflicts(db: Database) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))
    roads = await send(db, CARLA, **plan(db, days=3, hours=8))
    moved(db).advance(timedelta(minutes=5))

    cancelled = await cancel(db, water.notice.id)

    assert types(cancelled.events) == ["notice.cancelled", "conflict.resolved"]
    assert conflicts_in(cancelled.events) == [
        {
            "conflict": conflicts_in(roads.events)[0]["conflict"],
            "notices": [str(water.notice.id), str(roads.notice.id)],
            "by": str(water.notice.id),
            "reason": "cancelled",
        }
    ]
    assert await queries.conflicts(db, ANA, CHANNEL, open=True) == []
    [resolved] = await queries.conflicts(db, ANA, CHANNEL, open=False)
    assert (resolved.resolved_seq, resolved.resolved_at) == (
        cancelled.events[1].seq,
        START + timedelta(minutes=5),
    )


async def test_an_update_that_moves_a_plan_resolves_its_conflict_and_replaces_it(
    db: Database,
) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))
    roads = await send(db, CARLA, **plan(db, days=3, hours=8))

    moved_on = await send(db, BEN, refers_to=water.notice.id, **plan(db, days=10, hours=8))
    # Works in the old window no longer clash with the water plan: the update replaced it.
    gully = await send(db, DEV, subject="Gully cleaning", **plan(db, days=3, hours=1))

    assert types(moved_on.events) == ["notice.sent", "conflict.resolved"]
    assert conflicts_in(moved_on.events)[0]["by"] == str(moved_on.notice.id)
    assert conflicts_in(moved_on.events)[0]["reason"] == "updated"
    [with_roads] = conflicts_in(gully.events)  # the roads plan still stands there
    assert with_roads["notices"] == [str(roads.notice.id), str(gully.notice.id)]
    still_open = await queries.conflicts(db, ANA, CHANNEL, open=True)
    assert [c.notices for c in still_open] == [[roads.notice.id, gully.notice.id]]


async def test_a_reply_of_the_other_party_leaves_the_plan_standing(db: Database) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))

    reply = await send(db, CARLA, refers_to=water.notice.id, **plan(db, days=3, hours=2))
    later = await send(db, DEV, **plan(db, days=3, hours=1))

    assert types(reply.events) == ["notice.sent", "conflict.detected"]
    assert len(conflicts_in(later.events)) == 2  # the first plan stands, and so does the reply


async def test_a_cancelled_plan_or_one_that_has_ended_is_not_compared(db: Database) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))
    await cancel(db, water.notice.id)
    ended = await send(db, BEN, **plan(db, days=2, hours=1))
    window = ended.notice.content.activity
    assert window is not None
    moved(db).set(window.ends_at)  # it ends now: [starts, ends) is over

    late = await send(
        db,
        CARLA,
        subject="Burst main, Mill Lane",
        priority=Priority.URGENT,  # urgent works need no advance notice
        activity=ActivityWindow(window.starts_at, window.ends_at + timedelta(hours=1)),
        area="Mill Lane",
    )
    now = moved(db).now()
    meanwhile = ActivityWindow(now + timedelta(minutes=10), now + timedelta(minutes=20))
    alongside = await send(db, DEV, subject="Traffic lights", activity=meanwhile, area="Mill Lane")

    assert types(late.events) == ["notice.sent"]
    [with_late] = conflicts_in(alongside.events)  # compared with what is still under way
    assert with_late["notices"] == [str(late.notice.id), str(alongside.notice.id)]


async def test_plans_sent_in_one_batch_see_each_other(db: Database) -> None:
    water, roads = await asyncio.gather(
        send(db, ANA, **plan(db, days=3, hours=8)), send(db, CARLA, **plan(db, days=3, hours=8))
    )

    found = conflicts_in([*water.events, *roads.events])
    assert len(found) == 1
    assert len(await queries.conflicts(db, ANA, CHANNEL, open=True)) == 1


async def test_an_area_whose_compared_form_is_longer_than_the_area_is_stored_and_compared(
    db: Database,
) -> None:
    area = "Straße " + "ß" * 190  # 197 characters; as compared, "strasse " and 380 s
    water = await send(db, ANA, **plan(db, days=3, hours=8, area=area))
    roads = await send(db, CARLA, **plan(db, days=3, hours=2, area="STRAßE  " + "ß" * 190))

    assert water.notice.content.area == area
    [detected] = conflicts_in(roads.events)
    assert detected["area"] == "strasse " + "s" * 380
    [stored] = await queries.conflicts(db, ANA, CHANNEL, open=True)
    assert stored.area == detected["area"]


async def test_a_replaced_plan_acknowledged_in_the_batch_of_a_new_plan_does_not_conflict(
    db: Database,
) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))
    await send(db, BEN, refers_to=water.notice.id, **plan(db, days=10, hours=8))

    # The acknowledgement writes the replaced plan again, earlier in the roads plan's batch.
    acknowledge = rules.Decide(water.notice.id, Decision.ACKNOWLEDGED)
    _, roads = await asyncio.gather(
        commands.execute(db, acknowledge, channel_id=CHANNEL, actor=DEV),
        send(db, CARLA, **plan(db, days=3, hours=2)),
    )

    assert types(roads.events) == ["notice.sent"]
    assert await queries.conflicts(db, ANA, CHANNEL, open=True) == []


async def test_a_plan_replaced_earlier_in_the_same_batch_is_not_compared(db: Database) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))

    _, roads = await asyncio.gather(
        send(db, BEN, refers_to=water.notice.id, **plan(db, days=10, hours=8)),
        send(db, CARLA, **plan(db, days=3, hours=2)),
    )

    assert types(roads.events) == ["notice.sent"]


async def test_a_conflict_read_back_by_another_process_is_resolved_there(
    db: Database, database_url: str
) -> None:
    water = await send(db, ANA, **plan(db, days=3, hours=8))
    await send(db, CARLA, **plan(db, days=3, hours=8))

    async with clocked_database(database_url, clock=moved(db)) as other:
        cancelled = await cancel(other, water.notice.id)

    assert types(cancelled.events) == ["notice.cancelled", "conflict.resolved"]
    assert await queries.conflicts(db, ANA, CHANNEL, open=True) == []
