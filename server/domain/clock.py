"""What the channel does on its own when a time comes: the pure half of the one clock.

Everything the server does unasked is a *due action*: a :class:`Due` of some kind about
some subject (a notice, a check, a channel's check schedule), due at a moment. The store
keeps due actions in a table, so that a restart loses none; the scheduler
(``server/service/scheduler.py``) claims those whose time has come and hands each to
:func:`fire`, which returns the events it causes and the due actions that follow it.

The chase of one notice, with the urgent defaults (times after the deadline)::

    sent ─ deadline ─▶ overdue ─ +15 min ─▶ reminder 1 ─ +15 min ─▶ reminder 2 … +1 h ─▶ escalated
                   (an acknowledgement or objection at any point ends the chase)

Nothing is ever fired early: a due action handed over before its time fires nothing and is
given back. Nothing is cancelled either: a due action whose reason went away (the notice
was decided, the check answered, the policy changed) simply fires nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from client.protocol.times import format_time, to_millisecond
from client.protocol.vocabulary import Status
from server.domain.events import (
    CheckMissed,
    CheckRequested,
    LogEvent,
    NoticeEscalated,
    NoticeOverdue,
    NoticeReminded,
    NoticeSent,
    PolicyChanged,
)
from server.domain.model import Channel, Check, Notice

__all__ = ["CLOCK_NAMESPACE", "Due", "DueKind", "Fired", "check_id", "fire", "scheduled", "tick_id"]

CLOCK_NAMESPACE = UUID("9d4f2a8e-73b1-4c0a-a6f5-1e2d3c4b5a69")
"""The namespace of the ids the clock makes (check schedules and checks): UUIDv5s."""

AWAITING_DECISION = frozenset({Status.SENT, Status.DELIVERED, Status.OVERDUE})


class DueKind(StrEnum):
    """What a due action does when its time comes."""

    OVERDUE = "overdue"
    """Log ``notice.overdue``: the acknowledgement deadline passed."""
    REMIND = "remind"
    """Log ``notice.reminded`` (number ``n``)."""
    ESCALATE = "escalate"
    """Log ``notice.escalated``."""
    REQUEST_CHECKS = "request_checks"
    """Ask each party of the channel to answer a liveness check."""
    CHECK_MISSED = "check_missed"
    """Log ``check.missed`` unless the check was answered."""


@dataclass(frozen=True, slots=True)
class Due:
    """One thing the server will do at ``due_at``, unless its reason has gone by then."""

    kind: DueKind
    channel: str
    subject: UUID
    """The notice (overdue, remind, escalate), the check (check_missed), or the schedule
    (request_checks: :func:`tick_id` of the policy in force)."""
    due_at: datetime
    n: int = 0
    """Which reminder (from 1); 0 for the other kinds."""


@dataclass(frozen=True, slots=True)
class Fired:
    """What firing a due action caused: events to log, and due actions to keep."""

    events: list[LogEvent] = field(default_factory=list)
    next: list[Due] = field(default_factory=list)


def tick_id(channel: Channel) -> UUID:
    """The id of a channel's check schedule under the policy in force.

    A new policy has a new id, so the ticks left by the old one fire nothing.
    """
    return uuid.uuid5(CLOCK_NAMESPACE, f"{channel.id}/{channel.policy_id or 'initial'}")


def check_id(tick: UUID, due_at: datetime, party: str) -> UUID:
    """The id of the check a tick asks a party: the same in every process that computes it."""
    return uuid.uuid5(CLOCK_NAMESPACE, f"{tick}/{format_time(due_at)}/{party}")


def scheduled(events: Iterable[LogEvent], channel: Channel) -> list[Due]:
    """The due actions that events of a command start.

    Args:
        events: what a command appended (a send, a policy change).
        channel: the channel, as it stands after the events.
    """
    dues = []
    for event in events:
        if isinstance(event, NoticeSent) and event.notice.ack_due_at is not None:
            dues.append(Due(DueKind.OVERDUE, channel.id, event.notice.id, event.notice.ack_due_at))
        elif isinstance(event, PolicyChanged) and channel.policy.checks is not None:
            first = to_millisecond(event.at + channel.policy.checks.every)
            dues.append(Due(DueKind.REQUEST_CHECKS, channel.id, tick_id(channel), first))
    return dues


def fire(
    due: Due,
    *,
    channel: Channel,
    now: datetime,
    notice: Notice | None = None,
    checks: Sequence[Check] = (),
    admins: Mapping[str, Sequence[str]] | None = None,
) -> Fired:
    """The events a due action causes at ``now``, and the due actions that follow.

    Args:
        due: the due action.
        channel: its channel, with the policy in force.
        now: the server's clock.
        notice: for the notice kinds, the notice as it stands.
        checks: for ``check_missed``, the check as it stands (one, or none if unknown);
            for ``request_checks``, the checks this tick asks that exist already (none,
            unless it is a second copy of a tick that fired).
        admins: per party, its admins: whom an escalation goes to when the policy names
            nobody on duty.

    Returns:
        The events and the next due actions; nothing at all if the reason has gone.
    """
    now = to_millisecond(now)
    if due.due_at > now:
        return Fired(next=[due])  # never early: it goes back, to fire when its time comes
    match due.kind:
        case DueKind.OVERDUE | DueKind.REMIND | DueKind.ESCALATE:
            return _chase(due, channel, notice, now, admins or {})
        case DueKind.REQUEST_CHECKS:
            return _request_checks(due, channel, now, asked={c.id for c in checks})
        case DueKind.CHECK_MISSED:
            found = next((c for c in checks if c.id == due.subject), None)
            return _check_missed(due, channel, found, now, admins or {})
    raise ValueError(f"unknown due action {due!r}")  # pragma: no cover - the enum is closed


def on_duty(channel: Channel, party: str, admins: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Whom an escalation for ``party`` goes to: its operators on duty, else its admins."""
    return tuple(channel.policy.escalate_to.get(party) or admins.get(party, ()))


def _chase(
    due: Due,
    channel: Channel,
    notice: Notice | None,
    now: datetime,
    admins: Mapping[str, Sequence[str]],
) -> Fired:
    if (
        notice is None
        or notice.channel != channel.id
        or notice.ack_due_at is None
        or notice.status not in AWAITING_DECISION
    ):
        return Fired()  # decided or cancelled meanwhile: the chase is over
    deadline = notice.ack_due_at
    chase = channel.policy.chase[notice.content.priority]
    receiver = channel.other_party(notice.sender_party)
    if due.kind is DueKind.OVERDUE:
        if notice.status is Status.OVERDUE:
            return Fired()  # marked already (a second copy of the due action)
        if deadline > now:  # the deadline moved later than this copy says: wait for it
            return Fired(next=[Due(DueKind.OVERDUE, channel.id, notice.id, deadline)])
        following = []
        if chase.reminders:
            following.append(
                Due(DueKind.REMIND, channel.id, notice.id, chase.reminder_at(deadline, 1), n=1)
            )
        if chase.escalate_after is not None:
            escalate_at = deadline + chase.escalate_after
            following.append(Due(DueKind.ESCALATE, channel.id, notice.id, escalate_at))
        return Fired([NoticeOverdue(notice.id, now, deadline)], following)
    # Each later step follows the policy in force when it fires: a step whose time that
    # policy puts later goes back to wait for it, never firing early; a step already
    # logged (a second copy of its due action) logs nothing.
    if due.kind is DueKind.REMIND:
        if due.n > chase.reminders or due.n <= notice.reminded:
            return Fired()  # the policy now sends fewer reminders, or this one was sent
        at = chase.reminder_at(deadline, due.n)
        if at > now:
            return Fired(next=[replace(due, due_at=at)])
        following = []
        if due.n < chase.reminders:
            later = chase.reminder_at(deadline, due.n + 1)
            following.append(Due(DueKind.REMIND, channel.id, notice.id, later, n=due.n + 1))
        reminded = NoticeReminded(notice.id, now, at, receiver, due.n, chase.reminders)
        return Fired([reminded], following)
    if chase.escalate_after is None or notice.escalated_at is not None:
        return Fired()  # the policy no longer escalates, or this notice escalated already
    at = deadline + chase.escalate_after
    if at > now:
        return Fired(next=[replace(due, due_at=at)])
    to = on_duty(channel, receiver, admins)
    return Fired([NoticeEscalated(notice.id, now, at, receiver, to)])


def _request_checks(due: Due, channel: Channel, now: datetime, *, asked: set[UUID]) -> Fired:
    checks = channel.policy.checks
    if checks is None or due.subject != tick_id(channel):
        return Fired()  # the policy that scheduled this tick is no longer in force
    if any(check_id(due.subject, due.due_at, party) in asked for party in channel.parties):
        return Fired()  # a second copy of a tick that fired: its checks and next tick exist
    events: list[LogEvent] = []
    following = []
    answer_by = now + checks.answer_within
    for party in channel.parties:
        check = check_id(due.subject, due.due_at, party)
        events.append(CheckRequested(check, now, due.due_at, party, answer_by))
        following.append(Due(DueKind.CHECK_MISSED, channel.id, check, answer_by))
    # A server that was down for several ticks asks once, now, not once per tick it slept
    # through: the next tick is the first one of the schedule still to come.
    after = due.due_at + checks.every
    while after <= now:
        after += checks.every
    following.append(Due(DueKind.REQUEST_CHECKS, channel.id, due.subject, after))
    return Fired(events, following)


def _check_missed(
    due: Due,
    channel: Channel,
    check: Check | None,
    now: datetime,
    admins: Mapping[str, Sequence[str]],
) -> Fired:
    if check is None or check.answered_at is not None or check.missed_at is not None:
        return Fired()
    to = on_duty(channel, check.party, admins)
    return Fired([CheckMissed(check.id, now, check.answer_by, check.party, to)])
