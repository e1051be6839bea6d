"""Deadlines that act: a missed deadline is an event (guarantee 6), then the chase.

A send writes its ``overdue`` due action in the same transaction; the clock
(``commands.fire_due``, which the scheduler calls) claims what is due, fires it and writes
what follows: reminders, then an escalation, until the notice is decided or cancelled.
The tests move a hand-held clock and fire themselves: nothing waits, nothing sleeps.

Urgent notices under the default policy are due an hour after they are sent, then
reminded 15, 30, 45 and 60 minutes after the deadline and escalated after an hour.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import psycopg
import pytest
from alembic import command as alembic
from sqlalchemy import Connection, text

from client.protocol import schemas
from client.protocol.note import Signer, generate_key
from client.protocol.times import format_time
from client.protocol.vocabulary import Decision, Priority, Status
from server.clock import ManualClock
from server.domain import rules
from server.domain.model import NoticeContent, Policy
from server.fanout import Hub
from server.keys import LogKeys
from server.service import admin, commands
from server.service.log import Checkpoints
from server.store.db import Database
from server.store.migrate import alembic_config
from server.store.models import DueActionRow
from server.store.repository import NoticeFilter, Repository
from tests.integration.store_clock import (
    ANA,
    CARLA,
    CHANNEL,
    DEV,
    START,
    clocked_database,
    dues,
    fire,
    log,
    moved,
    send,
    types,
)

HOUR = timedelta(hours=1)
DEADLINE = START + HOUR
"""When an urgent notice sent at ``START`` is due."""
MS = timedelta(milliseconds=1)
MIN = timedelta(minutes=1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo on a hand-moved clock, showing ``START``."""
    async with clocked_database(database_url) as database:
        yield database


async def notice_status(db: Database, notice_id: uuid.UUID) -> Status:
    async with db.session() as session:
        found = await Repository(session).notice(notice_id)
    assert found is not None
    return found[0].status


async def decide(db: Database, notice_id: uuid.UUID, decision: Decision) -> commands.Outcome:
    reason = "Crew booked" if decision is Decision.OBJECTED else None
    command = rules.Decide(notice_id, decision, reason=reason)
    return await commands.execute(db, command, channel_id=CHANNEL, actor=CARLA)


def chase(events: Sequence[schemas.Event]) -> list[tuple[str, object]]:
    """Each event's type with its reminder number or escalation list."""
    return [(str(e.type), e.data.get("reminder", e.data.get("to"))) for e in events]


async def test_a_missed_deadline_is_logged_by_the_server_itself(db: Database) -> None:
    sent = await send(db)

    fired = await fire(db, DEADLINE)

    notice = sent.notice.id
    assert [(str(e.type), e.actor, e.data) for e in fired] == [
        ("notice.overdue", None, {"notice": str(notice), "due_at": format_time(DEADLINE)})
    ]
    assert fired[0].at == DEADLINE
    assert await log(db) == [*sent.events, *fired]
    async with db.session() as session:
        found = await Repository(session).notice(notice)
    assert found is not None
    assert found[0].status is Status.OVERDUE
    assert found[0].overdue_at == DEADLINE


async def test_nothing_fires_before_its_time(db: Database) -> None:
    sent = await send(db)

    early = await fire(db, DEADLINE - MS)

    assert early == []
    assert await dues(db) == [("overdue", sent.notice.id, 0, DEADLINE)]
    assert await notice_status(db, sent.notice.id) is Status.SENT


async def test_a_late_firing_stamps_the_time_it_fired_and_the_time_it_was_due(
    db: Database,
) -> None:
    await send(db)

    [overdue] = await fire(db, DEADLINE + timedelta(minutes=5))

    assert overdue.at == DEADLINE + timedelta(minutes=5)
    assert overdue.data["due_at"] == format_time(DEADLINE)


async def test_an_overdue_notice_still_awaits_a_decision(db: Database) -> None:
    sent = await send(db)
    await fire(db, DEADLINE)

    async with db.session() as session:
        awaiting = await Repository(session).notices(
            CHANNEL, NoticeFilter(awaiting_decision=True), before_seq=None, limit=10
        )

    assert [n.id for n, _ in awaiting] == [sent.notice.id]
    assert awaiting[0][0].status is Status.OVERDUE


async def test_a_due_action_fires_once(db: Database) -> None:
    await send(db)
    await fire(db, DEADLINE)

    again = await fire(db, DEADLINE)

    assert again == []
    assert types(await log(db)) == ["notice.sent", "notice.overdue"]


async def test_a_received_notice_goes_overdue_too(db: Database) -> None:
    sent = await send(db)
    await commands.execute(db, rules.RecordReceipt(sent.notice.id), channel_id=CHANNEL, actor=CARLA)

    fired = await fire(db, DEADLINE)

    assert types(fired) == ["notice.overdue"]
    assert await notice_status(db, sent.notice.id) is Status.OVERDUE


async def test_a_receipt_after_the_deadline_keeps_the_notice_overdue(db: Database) -> None:
    sent = await send(db)
    await fire(db, DEADLINE)

    received = await commands.execute(
        db, rules.RecordReceipt(sent.notice.id), channel_id=CHANNEL, actor=CARLA
    )

    assert received.notice.status is Status.OVERDUE
    assert received.notice.received_by == "carla"


@pytest.mark.parametrize("decision", list(Decision), ids=str)
async def test_a_decision_after_the_deadline_ends_the_chase(
    db: Database, decision: Decision
) -> None:
    sent = await send(db)
    await fire(db, DEADLINE)

    decided = await decide(db, sent.notice.id, decision)
    later = await fire(db, DEADLINE + 3 * HOUR)

    assert decided.notice.status.value == decision.value
    assert decided.notice.overdue_at == DEADLINE
    assert later == []
    assert await dues(db) == []  # each reminder and the escalation fired, and said nothing


@pytest.mark.parametrize("decision", list(Decision), ids=str)
async def test_a_decided_notice_never_goes_overdue(db: Database, decision: Decision) -> None:
    sent = await send(db)
    await decide(db, sent.notice.id, decision)

    assert await fire(db, DEADLINE + 3 * HOUR) == []
    assert types(await log(db)) == ["notice.sent", "notice.received", f"notice.{decision}"]


async def test_a_cancelled_notice_is_chased_no_more(db: Database) -> None:
    sent = await send(db)
    await fire(db, DEADLINE)

    cancel = rules.Cancel(sent.notice.id, reason="Postponed")
    await commands.execute(db, cancel, channel_id=CHANNEL, actor=ANA)

    assert await fire(db, DEADLINE + 3 * HOUR) == []
    assert types(await log(db)) == ["notice.sent", "notice.overdue", "notice.cancelled"]


async def test_a_notice_that_needs_no_acknowledgement_has_no_deadline_to_chase(
    db: Database,
) -> None:
    sent = await send(db, ack_required=False)

    assert sent.notice.ack_due_at is None
    assert await dues(db) == []
    assert await fire(db, DEADLINE + 3 * HOUR) == []


async def test_an_undecided_notice_is_reminded_then_escalated_to_the_receiving_admins(
    db: Database,
) -> None:
    await send(db)

    passes = [await fire(db, DEADLINE + n * timedelta(minutes=15)) for n in range(5)]

    assert [chase(p) for p in passes] == [
        [("notice.overdue", None)],
        [("notice.reminded", 1)],
        [("notice.reminded", 2)],
        [("notice.reminded", 3)],
        [("notice.reminded", 4), ("notice.escalated", ["raj"])],
    ]
    reminder = passes[1][0]
    assert reminder.actor is None
    assert reminder.data["party"] == "roads"
    assert reminder.data["of"] == 4
    assert reminder.data["due_at"] == format_time(DEADLINE + timedelta(minutes=15))
    assert await dues(db) == []
    assert await fire(db, DEADLINE + 10 * HOUR) == []


async def test_an_escalation_goes_to_the_operators_on_duty_when_the_policy_names_them(
    database_url: str,
) -> None:
    policy = Policy(escalate_to={"roads": ("dev",)})
    async with clocked_database(database_url, policy=policy) as db:
        await send(db)

        fired = await fire(db, DEADLINE + HOUR)

    assert chase(fired)[-1] == ("notice.escalated", [DEV.operator])


async def test_a_late_server_catches_up_a_whole_chase_in_due_order(db: Database) -> None:
    await send(db)

    fired = await fire(db, DEADLINE + 5 * HOUR)

    assert chase(fired) == [
        ("notice.overdue", None),
        ("notice.reminded", 1),
        ("notice.reminded", 2),
        ("notice.reminded", 3),
        ("notice.reminded", 4),
        ("notice.escalated", ["raj"]),
    ]
    assert {e.at for e in fired} == {DEADLINE + 5 * HOUR}
    assert [e.data["due_at"] for e in fired] == [
        format_time(DEADLINE + n * timedelta(minutes=15)) for n in range(5)
    ] + [format_time(DEADLINE + HOUR)]
    assert [e.seq for e in fired] == list(range(2, 8))
    assert await dues(db) == []


async def test_one_firing_marks_every_missed_deadline_in_log_order(db: Database) -> None:
    first = await send(db, subject="First")
    moved(db).advance(timedelta(seconds=1))  # deadlines a second apart: one order to expect
    routine = await send(db, subject="Routine", priority=Priority.ROUTINE)
    important = await send(db, subject="Important", priority=Priority.IMPORTANT)
    from_roads = await send(db, CARLA, subject="From roads")

    fired = await fire(db, START + timedelta(days=1, seconds=1))

    overdue = [e.data["notice"] for e in fired if str(e.type) == "notice.overdue"]
    assert overdue == [str(first.notice.id), str(from_roads.notice.id), str(important.notice.id)]
    assert str(routine.notice.id) not in {e.data["notice"] for e in fired}
    assert [e.seq for e in fired] == list(range(5, 5 + len(fired)))


async def test_a_firing_takes_at_most_its_limit_and_the_next_takes_the_rest(
    db: Database,
) -> None:
    sent = []
    for n in range(3):
        sent.append((await send(db, subject=f"Burst main {n}")).notice.id)
        moved(db).advance(timedelta(seconds=1))
    moved(db).set(DEADLINE + timedelta(seconds=2))

    first = await commands.fire_due(db, limit=2)
    second = await commands.fire_due(db, limit=2)

    assert (first.claimed, second.claimed) == (2, 1)
    assert [e.data["notice"] for e in [*first.events, *second.events]] == [str(i) for i in sent]


class Recording:
    """A fan-out that remembers what was published to it, and the roots."""

    def __init__(self) -> None:
        self.hub = Hub(Checkpoints(LogKeys(Signer.parse(generate_key("test.example")[0]))))
        self.published: list[schemas.Event] = []
        self.roots: list[bytes] = []

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        self.published.extend(events)
        self.roots.append(root)


async def test_fired_events_are_published_once_committed(db: Database) -> None:
    await send(db)
    fanout = Recording()

    fired = await commands.fire_due(db, now=DEADLINE + HOUR, fanout=fanout)

    assert fired.events == []  # not due yet by the clock, which still shows START
    moved(db).set(DEADLINE + HOUR)
    fired = await commands.fire_due(db, fanout=fanout)
    assert len(fired.events) == 6
    assert fanout.published == fired.events
    assert fanout.roots == [fired.roots[CHANNEL]]


async def test_due_actions_outlive_the_process_that_wrote_them(database_url: str) -> None:
    async with clocked_database(database_url) as db:
        sent = await send(db)
    restarted = Database(database_url, clock=ManualClock(DEADLINE + timedelta(minutes=20)))
    try:
        fired = await fire(restarted)
    finally:
        await restarted.dispose()

    assert [(str(e.type), e.data["notice"]) for e in fired] == [
        ("notice.overdue", str(sent.notice.id)),
        ("notice.reminded", str(sent.notice.id)),
    ]


async def test_a_second_copy_of_a_reminder_or_escalation_logs_nothing_in_another_process(
    database_url: str,
) -> None:
    async with clocked_database(database_url) as db:
        sent = (await send(db)).notice
        await fire(db, DEADLINE + HOUR)  # the whole chase: overdue, 4 reminders, escalated
        copies = [
            DueActionRow(
                id=uuid.uuid4(),
                channel_id=CHANNEL,
                kind=kind,
                subject=sent.id,
                n=n,
                due_at=DEADLINE + after,
            )
            for kind, n, after in [
                ("remind", 1, 15 * MIN),
                ("remind", 4, HOUR),
                ("escalate", 0, HOUR),
            ]
        ]
        async with db.session() as session:
            session.add_all(copies)
            await session.commit()
        # Another process knows the notice only as stored: how far its chase went.
        other = Database(database_url, clock=ManualClock(DEADLINE + 2 * HOUR))
        try:
            fired = await fire(other)
            async with other.session() as session:
                stored = await Repository(session).notice(sent.id)
        finally:
            await other.dispose()
        left = await dues(db)

    assert fired == []
    assert left == []
    assert stored is not None
    assert (stored[0].reminded, stored[0].escalated_at) == (4, DEADLINE + HOUR)


@pytest.mark.parametrize("limit", [1, 100])
async def test_a_due_action_that_fails_to_fire_is_set_aside_and_the_others_fire(
    db: Database, limit: int, caplog: pytest.LogCaptureFixture
) -> None:
    first = (await send(db, subject="First")).notice
    moved(db).advance(MS)
    second = (await send(db, subject="Second")).notice
    # Due before both, of a kind this version cannot fire (a newer version's, say).
    bad = DueActionRow(
        id=uuid.uuid4(),
        channel_id=CHANNEL,
        kind="unheard_of",
        subject=uuid.uuid4(),
        n=0,
        due_at=DEADLINE - MIN,
    )
    async with db.session() as session:
        session.add(bad)
        await session.commit()

    now = DEADLINE + MS
    with caplog.at_level(logging.ERROR, logger="server.service.commands"):
        fired = await fire(db, now, limit=limit)

    assert [(str(e.type), e.data["notice"]) for e in fired] == [
        ("notice.overdue", str(first.id)),
        ("notice.overdue", str(second.id)),
    ]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    said = {name: getattr(error, name) for name in ("due_action", "kind", "channel", "subject")}
    assert said == {
        "due_action": str(bad.id),
        "kind": "unheard_of",
        "channel": CHANNEL,
        "subject": str(bad.subject),
    }
    put_off = now + commands.SET_ASIDE  # not fired, not gone: tried again then
    assert ("unheard_of", bad.subject, 0, put_off) in await dues(db)
    assert await fire(db, put_off - MS) == []
    assert await fire(db, put_off) == []
    assert ("unheard_of", bad.subject, 0, put_off + commands.SET_ASIDE) in await dues(db)


async def test_two_processes_firing_at_once_fire_each_due_action_once(database_url: str) -> None:
    async with clocked_database(database_url) as db:
        await admin.create_channel(db, "roads-water", parties=("roads", "water"))
        sent = [(await send(db, subject=f"Valve {n}")).notice.id for n in range(10)]
        for n in range(4):
            content = NoticeContent(subject=f"Hydrant {n}", priority=Priority.URGENT)
            command = rules.SendNotice(uuid.uuid4(), content)
            await commands.execute(db, command, channel_id="roads-water", actor=ANA)
            sent.append(command.notice_id)
        late = DEADLINE + timedelta(minutes=20)  # overdue, and reminded once
        moved(db).set(late)
        second = Database(database_url, clock=ManualClock(late))
        try:
            passes = await asyncio.gather(
                *(fire(process, limit=3) for process in (db, second, db, second))
            )
        finally:
            await second.dispose()
        served = [*await log(db), *await log(db, "roads-water")]
        left = await dues(db)

    def notices(events: Sequence[schemas.Event], kind: str) -> list[str]:
        return sorted(e.data["notice"] for e in events if str(e.type) == kind)

    fired = [e for p in passes for e in p]
    everyone = sorted(str(i) for i in sent)
    assert notices(fired, "notice.overdue") == notices(fired, "notice.reminded") == everyone
    assert notices(served, "notice.overdue") == notices(served, "notice.reminded") == everyone
    assert [kind for kind, *_ in left] == ["remind"] * 14 + ["escalate"] * 14


async def test_a_claim_skips_what_another_process_is_firing_and_never_waits_for_it(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL has other writers to skip (SQLite has one write lock)")
    async with clocked_database(database_url) as db:
        held, free = (await send(db, subject="Held")).notice, (await send(db)).notice
        moved(db).set(DEADLINE)
        url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url) as other:
            await other.execute(
                "SELECT id FROM due_actions WHERE subject = %s FOR UPDATE", (held.id,)
            )
            async with asyncio.timeout(10):
                skipped = await commands.fire_due(db)
            await other.rollback()
        caught_up = await commands.fire_due(db)

    assert [e.data["notice"] for e in skipped.events] == [str(free.id)]
    assert [e.data["notice"] for e in caught_up.events] == [str(held.id)]


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config(connection)
    if revision == "head":
        alembic.upgrade(config, revision)
    else:
        alembic.downgrade(config, revision)


async def test_the_migration_gives_each_notice_still_waiting_its_overdue_action(
    db: Database,
) -> None:
    waiting = await send(db, priority=Priority.IMPORTANT, area="  Mill   LANE ")
    decided = await send(db, subject="Decided")
    await decide(db, decided.notice.id, Decision.ACKNOWLEDGED)
    await send(db, subject="Overdue already")
    await fire(db, DEADLINE)  # the urgent one goes overdue; its chase is due later

    async with db.engine.begin() as connection:
        await connection.run_sync(_migrate, "0005")
    async with db.engine.begin() as connection:
        await connection.run_sync(_migrate, "head")

    # The one still waiting gets its deadline back; the one overdue already is not chased.
    assert await dues(db) == [("overdue", waiting.notice.id, 0, waiting.notice.ack_due_at)]
    async with db.session() as session:
        keys = await session.execute(text("SELECT area_key FROM notices WHERE area IS NOT NULL"))
    assert [key for (key,) in keys] == ["mill lane"]
