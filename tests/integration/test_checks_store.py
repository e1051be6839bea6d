"""Liveness checks through the store: asked on schedule, answered once, missed, and counted.

The channel here checks hourly, with five minutes to answer: its first check is due an
hour after it was made (``START``). The tests move the clock and fire what is due.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from client.protocol import schemas
from client.protocol.times import format_time
from server.domain.clock import DueKind
from server.domain.errors import CheckClosed, Forbidden, NotFound
from server.domain.model import Actor, Checks, Policy
from server.service import checks, policy
from server.store.db import Database
from server.store.models import DueActionRow
from tests.integration.store_clock import (
    ANA,
    BEN,
    CARLA,
    CHANNEL,
    DEV,
    RAJ,
    START,
    WANDA,
    clocked_database,
    dues,
    fire,
    log,
    moved,
    types,
)

HOUR = timedelta(hours=1)
WINDOW = timedelta(minutes=5)
HOURLY = Policy(checks=Checks(every=HOUR, answer_within=WINDOW))
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo channel checking hourly, on a hand-moved clock showing ``START``."""
    async with clocked_database(database_url, policy=HOURLY) as database:
        yield database


async def asked(db: Database, at: timedelta) -> dict[str, uuid.UUID]:
    """Fire the checks due ``at`` after ``START``; the check asked of each party."""
    fired = await fire(db, START + at)
    return {
        str(e.data["party"]): uuid.UUID(str(e.data["check"]))
        for e in fired
        if str(e.type) == "check.requested"
    }


async def answer(db: Database, check_id: uuid.UUID, actor: Actor) -> checks.CheckOutcome:
    return await checks.answer(db, check_id, channel_id=CHANNEL, actor=actor)


async def test_each_party_is_asked_when_the_schedule_says_and_not_before(db: Database) -> None:
    assert await fire(db, START + HOUR - timedelta(milliseconds=1)) == []

    fired = await fire(db, START + HOUR)

    assert [(str(e.type), e.actor, e.data["party"]) for e in fired] == [
        ("check.requested", None, "water"),
        ("check.requested", None, "roads"),
    ]
    assert {e.data["due_at"] for e in fired} == {format_time(START + HOUR)}
    assert {e.data["answer_by"] for e in fired} == {format_time(START + HOUR + WINDOW)}
    page = await checks.list_checks(db, ANA, CHANNEL)
    assert [(c.party, c.status, c.seq) for c in page.items] == [
        ("roads", "pending", fired[1].seq),
        ("water", "pending", fired[0].seq),
    ]
    assert [(kind, at - START) for kind, _, _, at in await dues(db)] == [
        ("check_missed", HOUR + WINDOW),
        ("check_missed", HOUR + WINDOW),
        ("request_checks", 2 * HOUR),
    ]


async def test_an_answer_is_logged_once_and_the_unanswered_check_is_missed(
    db: Database,
) -> None:
    ids = await asked(db, HOUR)
    moved(db).advance(MINUTE)

    answered = await answer(db, ids["roads"], CARLA)
    again = await answer(db, ids["roads"], DEV)
    missed = await fire(db, START + HOUR + WINDOW)

    assert types(answered.events) == ["check.answered"]
    assert answered.events[0].data == {
        "check": str(ids["roads"]),
        "party": "roads",
        "requested_at": format_time(START + HOUR),
        "answered_in_ms": 60_000,
    }
    assert (answered.check.status, answered.check.answered_by) == ("answered", "carla")
    assert answered.check.answered_in_ms == 60_000
    assert not again.changed
    assert again.check == answered.check
    assert [(str(e.type), e.data["party"], e.data["to"]) for e in missed] == [
        ("check.missed", "water", ["wanda"])
    ]
    page = await checks.list_checks(db, CARLA, CHANNEL)
    assert [(c.party, c.status) for c in page.items] == [("roads", "answered"), ("water", "missed")]


async def test_only_the_party_asked_answers_and_only_in_time(db: Database) -> None:
    ids = await asked(db, HOUR)

    with pytest.raises(Forbidden):
        await answer(db, ids["roads"], ANA)
    with pytest.raises(NotFound):
        await answer(db, uuid.uuid4(), ANA)
    moved(db).advance(WINDOW + timedelta(milliseconds=1))  # closed, not yet logged missed
    with pytest.raises(CheckClosed):
        await answer(db, ids["water"], BEN)
    await fire(db)
    with pytest.raises(CheckClosed):
        await answer(db, ids["water"], WANDA)  # any role of the party may answer, in time
    assert types(await log(db)) == ["check.requested"] * 2 + ["check.missed"] * 2


async def test_availability_counts_each_partys_answers_and_their_median_time(
    db: Database,
) -> None:
    first = await asked(db, HOUR)
    moved(db).advance(MINUTE)
    await answer(db, first["roads"], CARLA)
    moved(db).advance(MINUTE)
    await answer(db, first["water"], WANDA)
    second = await asked(db, 2 * HOUR)
    moved(db).advance(3 * MINUTE)
    await answer(db, second["roads"], RAJ)
    await asked(db, 3 * HOUR)  # water's second check is missed on the way; the third waits

    until = START + 3 * HOUR + MINUTE
    every = await checks.availability(db, ANA, CHANNEL, since=START, until=until)
    later = await checks.availability(db, ANA, CHANNEL, since=START + 90 * MINUTE, until=until)
    week = await checks.availability(db, CARLA, CHANNEL)  # the week up to now, now excluded

    assert (week.since, week.until) == (START + 3 * HOUR - timedelta(days=7), START + 3 * HOUR)
    assert [a.requested for a in week.parties] == [2, 2]
    assert [a.model_dump() for a in every.parties] == [
        _counts("water", requested=3, answered=1, missed=1, pending=1, median=120_000),
        _counts("roads", requested=3, answered=2, missed=0, pending=1, median=120_000),
    ]
    assert [a.model_dump() for a in later.parties] == [
        _counts("water", requested=2, answered=0, missed=1, pending=1, median=None),
        _counts("roads", requested=2, answered=1, missed=0, pending=1, median=180_000),
    ]


def _counts(
    party: str, *, requested: int, answered: int, missed: int, pending: int, median: int | None
) -> dict[str, object]:
    return schemas.PartyAvailability(
        party=party,
        requested=requested,
        answered=answered,
        missed=missed,
        pending=pending,
        median_answer_ms=median,
    ).model_dump()


async def test_a_late_server_asks_once_for_the_checks_it_slept_through(db: Database) -> None:
    fired = await fire(db, START + 5 * HOUR + 30 * MINUTE)

    assert types(fired) == ["check.requested"] * 2
    assert {e.at for e in fired} == {START + 5 * HOUR + 30 * MINUTE}
    assert {e.data["due_at"] for e in fired} == {format_time(START + HOUR)}
    assert [kind for kind, *_ in await dues(db)][-1] == "request_checks"
    assert (await dues(db))[-1][3] == START + 6 * HOUR


async def tick_again(db: Database, due_at: datetime) -> None:
    """Write a copy of the channel's check tick due at ``due_at``, as a doubled row would be."""
    async with db.session() as session:
        tick = await session.scalar(
            select(DueActionRow).where(DueActionRow.kind == DueKind.REQUEST_CHECKS.value)
        )
        assert tick is not None
        session.add(
            DueActionRow(
                id=uuid.uuid4(),
                channel_id=tick.channel_id,
                kind=tick.kind,
                subject=tick.subject,
                n=0,
                due_at=due_at,
            )
        )
        await session.commit()


async def test_two_copies_of_a_tick_fired_together_ask_each_party_once(db: Database) -> None:
    await tick_again(db, START + HOUR)

    fired = await fire(db, START + HOUR)

    assert types(fired) == ["check.requested"] * 2
    kinds = sorted(kind for kind, *_ in await dues(db))
    assert kinds == ["check_missed", "check_missed", "request_checks"]


async def test_a_copy_of_a_tick_that_fired_in_an_earlier_batch_asks_nothing(
    db: Database,
) -> None:
    await asked(db, HOUR)
    waiting = await dues(db)
    await tick_again(db, START + HOUR)

    assert await fire(db, START + HOUR + MINUTE) == []
    assert await dues(db) == waiting


async def test_a_new_policy_ends_the_old_schedule(db: Database) -> None:
    moved(db).advance(30 * MINUTE)
    proposed = await policy.propose(
        db, Policy(), timedelta(days=1), proposal_id=uuid.uuid4(), channel_id=CHANNEL, actor=RAJ
    )
    await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=WANDA)

    assert await fire(db, START + 3 * HOUR) == []
    assert await dues(db) == []


async def test_checks_are_listed_newest_first_a_page_at_a_time(db: Database) -> None:
    for hours in (1, 2, 3):
        await asked(db, hours * HOUR)

    first = await checks.list_checks(db, CARLA, CHANNEL, party="roads", limit=2)
    assert first.next_cursor is not None
    rest = await checks.list_checks(db, CARLA, CHANNEL, party="roads", cursor=first.next_cursor)

    listed = [*first.items, *rest.items]
    assert [c.party for c in listed] == ["roads"] * 3
    assert [c.due_at for c in listed] == [START + n * HOUR for n in (3, 2, 1)]
    assert rest.next_cursor is None
    with pytest.raises(NotFound):
        await checks.list_checks(db, Actor("gas", "gus", ANA.role), CHANNEL)
