"""Small builders shared by the domain's unit tests.

The story is the demo's: a water utility and a roads department dig up the same streets
and give each other notice. The water side sends, the roads side receives. Every notice
in a given state is built by running real commands through the rules, so a test never
starts from a state the rules could not have produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from client.protocol.vocabulary import Decision, Priority, Role
from server.domain.events import Event, evolve
from server.domain.model import ActivityWindow, Actor, Channel, Notice, NoticeContent
from server.domain.rules import (
    Cancel,
    Command,
    Decide,
    MarkOverdue,
    RecordReceipt,
    SendNotice,
    decide,
)

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
"""The moment every story starts: the server's clock when the first notice is sent."""

CHANNEL = Channel(id="water-roads", parties=("water", "roads"))
OTHER_CHANNEL = Channel(id="water-parks", parties=("water", "parks"))

WATER_OPERATOR = Actor(party="water", operator="ada", role=Role.OPERATOR)
WATER_OBSERVER = Actor(party="water", operator="wendy", role=Role.OBSERVER)
WATER_ADMIN = Actor(party="water", operator="walt", role=Role.ADMIN)
ROADS_OPERATOR = Actor(party="roads", operator="ben", role=Role.OPERATOR)
ROADS_OBSERVER = Actor(party="roads", operator="rosa", role=Role.OBSERVER)
ROADS_ADMIN = Actor(party="roads", operator="rick", role=Role.ADMIN)
SERVER = None
"""The server itself acts with no operator (the deadline watcher)."""

NOTICE_ID = UUID("0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01")
OTHER_ID = UUID("0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a02")

DUE = NOW + timedelta(days=3)
"""When a routine notice sent at ``NOW`` must be acknowledged (the default policy)."""

OBJECTION = "Our crew resurfaces Mill Lane that week; please move the works."


def content(**changes: Any) -> NoticeContent:
    """A routine notice of planned works a week ahead; ``changes`` override any field."""
    fields: dict[str, Any] = {
        "subject": "Water main renewal, Mill Lane",
        "body": "We replace 120 m of main; one lane closed, traffic lights at both ends.",
        "priority": Priority.ROUTINE,
        "activity": ActivityWindow(NOW + timedelta(days=7), NOW + timedelta(days=9)),
        "area": "Mill Lane, numbers 2 to 40",
    }
    fields.update(changes)
    return NoticeContent(**fields)


CONTENT = content()


def replay(events: Iterable[Event], notice: Notice | None = None) -> Notice | None:
    """Fold ``events`` into ``notice`` with ``evolve``, as the store does."""
    for event in events:
        notice = evolve(notice, event)
    return notice


def act(
    notice: Notice | None,
    command: Command,
    *,
    by: Actor | None,
    at: datetime,
    channel: Channel = CHANNEL,
    referenced: Notice | None = None,
) -> Notice:
    """Run ``command`` through the rules and return the notice after its events."""
    events = decide(
        command, channel=channel, actor=by, notice=notice, now=at, referenced=referenced
    )
    after = replay(events, notice)
    assert after is not None
    return after


def sent(
    notice_content: NoticeContent = CONTENT,
    *,
    notice_id: UUID = NOTICE_ID,
    channel: Channel = CHANNEL,
    by: Actor = WATER_OPERATOR,
    at: datetime = NOW,
    referenced: Notice | None = None,
    client_time: datetime | None = None,
) -> Notice:
    """A notice just sent (by the water operator, at ``NOW``, unless told otherwise)."""
    command = SendNotice(notice_id, notice_content, client_time=client_time)
    return act(None, command, by=by, at=at, channel=channel, referenced=referenced)


def _delivered() -> Notice:
    return act(sent(), RecordReceipt(NOTICE_ID), by=ROADS_OPERATOR, at=NOW + timedelta(hours=1))


def _acknowledged() -> Notice:
    command = Decide(NOTICE_ID, Decision.ACKNOWLEDGED)
    return act(_delivered(), command, by=ROADS_OPERATOR, at=NOW + timedelta(hours=2))


def _objected() -> Notice:
    command = Decide(NOTICE_ID, Decision.OBJECTED, reason=OBJECTION)
    return act(_delivered(), command, by=ROADS_OPERATOR, at=NOW + timedelta(hours=2))


def _cancelled(notice: Notice) -> Notice:
    command = Cancel(NOTICE_ID, reason="Works postponed")
    return act(notice, command, by=WATER_OPERATOR, at=NOW + timedelta(hours=3))


def _overdue(notice: Notice) -> Notice:
    return act(notice, MarkOverdue(NOTICE_ID), by=SERVER, at=DUE)


STATES = (
    "none",
    "sent",
    "delivered",
    "acknowledged",
    "objected",
    "cancelled-unreceived",
    "cancelled-received",
    "overdue-unreceived",
    "overdue-received",
)
"""Every state a notice can be in, split where having been received matters."""


def notice_in(state: str) -> Notice | None:
    """The notice ``NOTICE_ID`` in ``state`` (one of ``STATES``), built by real commands.

    Its story: sent at ``NOW``, received an hour later, decided or cancelled within a few
    hours, or left until the deadline ``DUE`` passed.
    """
    builders = {
        "none": lambda: None,
        "sent": sent,
        "delivered": _delivered,
        "acknowledged": _acknowledged,
        "objected": _objected,
        "cancelled-unreceived": lambda: _cancelled(sent()),
        "cancelled-received": lambda: _cancelled(_delivered()),
        "overdue-unreceived": lambda: _overdue(sent()),
        "overdue-received": lambda: _overdue(_delivered()),
    }
    return builders[state]()
