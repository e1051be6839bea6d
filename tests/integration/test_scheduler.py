"""The one clock on a real database: due actions fire at their time, never before, once.

Each test runs on SQLite and on PostgreSQL. Nobody sleeps: the app runs on a hand-moved
clock (``create_app(clock=…)``) and the tests call the scheduler's pass,
``Scheduler.fire_due``, themselves, at the moments they choose, a millisecond before a due
time and at it. The app runs without its lifespan (``tests/integration/clocked.py``), so the
scheduler's own loop never starts and never races the tests' passes (one test starts a
loop of its own on purpose).

The demo channel is given a policy whose urgent notices are due ten minutes after they
are sent, reminded 15 and 30 minutes after that deadline and escalated to dev an hour after
it: the urgent defaults, with the deadline, the number of reminders and whom to escalate to
chosen so that every step is checked.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from client.protocol import schemas
from client.protocol.times import format_time, parse_time
from client.protocol.vocabulary import Priority
from server.clock import ManualClock
from server.config import Settings
from server.domain.model import Chase, Checks, Policy
from server.domain.policy import policy_wire
from server.service import admin, demo
from server.service.scheduler import Scheduler
from server.store.db import Database
from server.store.migrate import upgrade
from tests.integration.clocked import ADMINS, START, Line, clocked

MS = timedelta(milliseconds=1)
DEADLINE = timedelta(minutes=10)
"""An urgent notice's acknowledgement deadline, after it is sent."""
URGENT_CHASE = Chase(
    remind_after=timedelta(minutes=15),
    remind_every=timedelta(minutes=15),
    reminders=2,
    escalate_after=timedelta(hours=1),
)
CHASED = Policy(
    ack_deadlines={**Policy().ack_deadlines, Priority.URGENT: DEADLINE},
    chase={**Policy().chase, Priority.URGENT: URGENT_CHASE},
    escalate_to={"roads": ("dev",)},
)
HOURLY = Checks(every=timedelta(hours=1), answer_within=timedelta(minutes=5))

PROPOSALS = f"/api/v1/channels/{demo.CHANNEL}/policy/proposals"
ADMIN_OF = {party: operator for operator, party, _ in ADMINS}
"""Each party's admin: the one who proposes or accepts, and whom escalations go to."""


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    """The demo channel under ``CHASED`` on a hand-moved clock, with an admin on each side."""
    for party_id, name in demo.PARTIES.items():
        await admin.create_party(db, party_id, name=name)
    await admin.create_channel(db, demo.CHANNEL, parties=("water", "roads"), policy=CHASED)
    async with clocked(db, settings) as line:  # the demo keeps the channel made here
        yield line


async def send_urgent(line: Line) -> dict[str, Any]:
    """Send an urgent notice from water (ana) to roads; returns it."""
    response = await line.api.send("ana", priority="urgent")
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def change_policy(line: Line, new: Policy) -> None:
    """Water's admin proposes ``new`` and roads' admin accepts it, at the clock's now."""
    proposal = str(uuid.uuid4())
    body = {"id": proposal, "policy": policy_wire(new), "lapses_in_seconds": 3600}
    proposed = await line.api.post(ADMIN_OF["water"], PROPOSALS, body)
    assert proposed.status_code == 201, proposed.text
    accepted = await line.api.post(ADMIN_OF["roads"], f"{PROPOSALS}/{proposal}/accept")
    assert accepted.status_code == 200, accepted.text


def shapes(events: Sequence[dict[str, Any]]) -> list[tuple[str, Any, dict[str, Any]]]:
    """Each event's type, actor and data: what the clock decided, without seq and at."""
    return [(event["type"], event["actor"], event["data"]) for event in events]


# -- a notice chased to escalation ---------------------------------------------------------


async def test_an_unanswered_notice_is_chased_to_escalation_each_step_at_its_time(
    line: Line,
) -> None:
    notice = await send_urgent(line)
    deadline = parse_time(notice["ack_due_at"])
    reminders = [deadline + URGENT_CHASE.remind_after, deadline + 2 * URGENT_CHASE.remind_after]
    escalation = deadline + timedelta(hours=1)
    assert deadline == START + DEADLINE
    n = notice["id"]
    chase = {"notice": n, "party": "roads"}

    assert await line.fire_at(deadline - MS) == []
    overdue = await line.fire_at(deadline)
    assert await line.fire_at(reminders[0] - MS) == []
    first = await line.fire_at(reminders[0])
    assert await line.fire_at(reminders[1] - MS) == []
    second = await line.fire_at(reminders[1])
    assert await line.fire_at(escalation - MS) == []
    escalated = await line.fire_at(escalation)
    after = await line.fire_at(escalation + timedelta(days=30))

    assert shapes(overdue) == [
        ("notice.overdue", None, {"notice": n, "due_at": format_time(deadline)})
    ]
    assert shapes(first) == [
        (
            "notice.reminded",
            None,
            {**chase, "due_at": format_time(reminders[0]), "reminder": 1, "of": 2},
        )
    ]
    assert shapes(second) == [
        (
            "notice.reminded",
            None,
            {**chase, "due_at": format_time(reminders[1]), "reminder": 2, "of": 2},
        )
    ]
    assert shapes(escalated) == [
        ("notice.escalated", None, {**chase, "due_at": format_time(escalation), "to": ["dev"]})
    ]
    assert after == [], "the chase is over once escalated"
    fired = [*overdue, *first, *second, *escalated]
    assert [event["at"] for event in fired] == [event["data"]["due_at"] for event in fired]
    log = await line.api.log("carla")
    assert [event["type"] for event in log[:1]] == ["notice.sent"]
    assert log[1:] == fired


async def test_an_escalation_goes_to_the_partys_admins_when_the_policy_names_nobody(
    line: Line,
) -> None:
    await change_policy(line, replace(CHASED, escalate_to={}))
    notice = await send_urgent(line)
    escalation = parse_time(notice["ack_due_at"]) + timedelta(hours=1)

    fired = await line.fire_at(escalation)

    assert fired[-1]["type"] == "notice.escalated"
    assert fired[-1]["data"]["to"] == [ADMIN_OF["roads"]]


@pytest.mark.parametrize(
    "decision",
    [{"decision": "acknowledged"}, {"decision": "objected", "reason": "Crews booked that week"}],
    ids=["acknowledgement", "objection"],
)
async def test_a_decision_stops_the_chase(line: Line, decision: dict[str, str]) -> None:
    notice = await send_urgent(line)
    deadline = parse_time(notice["ack_due_at"])
    await line.fire_at(deadline + URGENT_CHASE.remind_after)  # overdue, and reminded once

    decided = await line.api.act("carla", notice["id"], "decision", decision)
    assert decided.status_code == 200, decided.text
    later = await line.fire_at(deadline + timedelta(days=30))

    assert later == []
    log = await line.api.log("carla")
    assert [e["type"] for e in log if e["type"] != "notice.received"] == [
        "notice.sent",
        "notice.overdue",
        "notice.reminded",
        f"notice.{decision['decision']}",
    ]


async def test_a_notice_decided_before_its_deadline_is_never_chased(line: Line) -> None:
    notice = await send_urgent(line)
    await line.api.act("carla", notice["id"], "decision", {"decision": "acknowledged"})

    fired = await line.fire_at(START + timedelta(days=30))

    assert fired == []


async def test_a_late_server_catches_up_in_one_pass_stamping_when_each_action_fired_and_was_due(
    line: Line,
) -> None:
    notice = await send_urgent(line)
    deadline = parse_time(notice["ack_due_at"])
    woke = deadline + timedelta(hours=5)  # the server was down through the whole chase

    fired = await line.fire_at(woke)

    assert [(event["type"], event["data"]["due_at"]) for event in fired] == [
        ("notice.overdue", format_time(deadline)),
        ("notice.reminded", format_time(deadline + timedelta(minutes=15))),
        ("notice.reminded", format_time(deadline + timedelta(minutes=30))),
        ("notice.escalated", format_time(deadline + timedelta(hours=1))),
    ]
    assert {event["at"] for event in fired} == {format_time(woke)}
    assert await line.fire_at(woke + timedelta(days=30)) == []


async def test_many_due_actions_are_fired_in_one_pass_a_batch_at_a_time(line: Line) -> None:
    sent = [await send_urgent(line) for _ in range(7)]
    scheduler = Scheduler(line.db, None, every=1.0, batch=3)
    line.clock.set(START + DEADLINE)

    fired = await scheduler.fire_due()

    assert sorted(event.data["notice"] for event in fired) == sorted(n["id"] for n in sent)
    assert {event.type for event in fired} == {"notice.overdue"}


# -- liveness checks -----------------------------------------------------------------------


async def test_checks_are_requested_answered_and_missed_on_schedule(line: Line) -> None:
    await change_policy(line, replace(CHASED, checks=HOURLY))
    tick = START + HOURLY.every
    answer_by = tick + HOURLY.answer_within

    assert await line.fire_at(tick - MS) == []
    requested = await line.fire_at(tick)
    by_party = {event["data"]["party"]: event for event in requested}
    roads = uuid.UUID(by_party["roads"]["data"]["check"])
    line.clock.set(tick + timedelta(seconds=90))
    answered = await line.api.post(
        "carla", f"/api/v1/channels/{demo.CHANNEL}/checks/{roads}/answer"
    )
    assert await line.fire_at(answer_by - MS) == []
    missed = await line.fire_at(answer_by)
    assert await line.fire_at(tick + HOURLY.every - MS) == []
    next_tick = await line.fire_at(tick + HOURLY.every)

    assert sorted(by_party) == ["roads", "water"]
    for party, event in by_party.items():
        assert (event["type"], event["actor"], event["at"]) == (
            "check.requested",
            None,
            format_time(tick),
        )
        assert event["data"] == {
            "check": event["data"]["check"],
            "party": party,
            "due_at": format_time(tick),
            "answer_by": format_time(answer_by),
        }
    assert answered.status_code == 200, answered.text
    assert shapes(missed) == [
        (
            "check.missed",
            None,
            {
                "check": by_party["water"]["data"]["check"],
                "party": "water",
                "due_at": format_time(answer_by),
                "to": [ADMIN_OF["water"]],
            },
        )
    ]
    assert [(e["type"], e["data"]["due_at"]) for e in next_tick] == [
        ("check.requested", format_time(tick + HOURLY.every))
    ] * 2
    log = await line.api.log("carla")
    answers = [event for event in log if event["type"] == "check.answered"]
    assert shapes(answers) == [
        (
            "check.answered",
            {"party": "roads", "operator": "carla"},
            {
                "check": str(roads),
                "party": "roads",
                "requested_at": format_time(tick),
                "answered_in_ms": 90_000,
            },
        )
    ]


async def test_a_policy_change_reschedules_the_checks(line: Line) -> None:
    await change_policy(line, replace(CHASED, checks=HOURLY))
    changed_at = START + timedelta(minutes=30)
    line.clock.set(changed_at)
    every_two_hours = Checks(every=timedelta(hours=2), answer_within=timedelta(minutes=5))
    await change_policy(line, replace(CHASED, checks=every_two_hours))

    at_old_tick = await line.fire_at(START + HOURLY.every)
    assert await line.fire_at(changed_at + every_two_hours.every - MS) == []
    at_new_tick = await line.fire_at(changed_at + every_two_hours.every)

    assert at_old_tick == [], "the old policy's schedule is no longer in force"
    assert {(e["type"], e["data"]["due_at"]) for e in at_new_tick} == {
        ("check.requested", format_time(changed_at + every_two_hours.every))
    }


async def test_checks_stop_when_a_policy_without_them_is_agreed(line: Line) -> None:
    await change_policy(line, replace(CHASED, checks=HOURLY))
    await change_policy(line, CHASED)

    fired = await line.fire_at(START + timedelta(days=2))

    assert fired == []


# -- once, whoever fires it ----------------------------------------------------------------


async def test_two_processes_firing_at_once_fire_each_due_action_once(
    line: Line, database_url: str
) -> None:
    sent = [await send_urgent(line) for _ in range(40)]
    other = Database(database_url, clock=line.clock)
    try:
        await upgrade(other)  # a no-op: the same database, already migrated
        ours = Scheduler(line.db, None, every=1.0, batch=5)
        theirs = Scheduler(other, None, every=1.0, batch=5)
        line.clock.set(START + DEADLINE + timedelta(hours=1))

        fired = await asyncio.gather(ours.fire_due(), theirs.fire_due(), ours.fire_due())
    finally:
        await other.dispose()

    events = [event for events in fired for event in events]
    per_notice: dict[str, list[str]] = {}
    for event in events:
        per_notice.setdefault(event.data["notice"], []).append(
            f"{event.type}/{event.data.get('reminder')}"
        )
    assert sorted(per_notice) == sorted(n["id"] for n in sent)
    assert {tuple(sorted(kinds)) for kinds in per_notice.values()} == {
        ("notice.escalated/None", "notice.overdue/None", "notice.reminded/1", "notice.reminded/2")
    }
    log = await line.api.log("carla")
    assert len(log) == len(sent) * 5, "each notice: sent, overdue, two reminders, escalated"


# -- the scheduler's own loop --------------------------------------------------------------


class Recorder:
    """A fanout that keeps what is published, and says when something came."""

    def __init__(self) -> None:
        self.events: list[schemas.Event] = []
        self.news = asyncio.Event()

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        self.events.extend(events)
        self.news.set()

    async def wait_for(self, kind: str, *, within: float = 10.0) -> schemas.Event:
        async with asyncio.timeout(within):
            while True:
                found = [event for event in self.events if event.type == kind]
                if found:
                    return found[0]
                self.news.clear()
                await self.news.wait()


class FailsOnce(ManualClock):
    """A clock whose first reading fails, as a lost connection would fail a pass."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.failed = False

    def now(self) -> datetime:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the clock failed, once")
        return super().now()


async def test_the_loop_logs_a_failed_pass_and_fires_at_the_next(
    line: Line, caplog: pytest.LogCaptureFixture
) -> None:
    notice = await send_urgent(line)
    clock = FailsOnce(parse_time(notice["ack_due_at"]))
    line.db.clock = clock
    recorder = Recorder()
    scheduler = Scheduler(line.db, recorder, every=0.05)  # type: ignore[arg-type]

    with caplog.at_level(logging.ERROR, logger="server.service.scheduler"):
        loop = asyncio.create_task(scheduler.run())
        try:
            overdue = await recorder.wait_for("notice.overdue")
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    assert clock.failed
    assert overdue.data["notice"] == notice["id"]
    failures = [r.message for r in caplog.records if r.name == "server.service.scheduler"]
    assert failures == ["the clock's pass failed; it will try again"]


async def test_the_loop_waits_no_longer_than_until_the_next_due_time(line: Line) -> None:
    notice = await send_urgent(line)
    deadline = parse_time(notice["ack_due_at"])
    scheduler = Scheduler(line.db, None, every=3600.0)

    line.clock.set(deadline - timedelta(seconds=2))
    soon = await scheduler.seconds_to_next()
    line.clock.set(deadline)
    await scheduler.fire_due()
    line.clock.set(deadline + timedelta(minutes=5))
    next_reminder = await scheduler.seconds_to_next()

    assert soon == 2.0
    assert next_reminder == 600.0
    assert await Scheduler(line.db, None, every=30.0).seconds_to_next() == 30.0
