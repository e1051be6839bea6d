"""The things a channel is made of, as plain immutable values.

Nothing here knows about HTTP or SQL. The store turns rows into these values and back;
the rules (``rules.py``) take them and return events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from client.protocol.limits import (
    MAX_AREA,
    MAX_BODY,
    MAX_REASON,
    MAX_SUBJECT,
    check_line,
    check_text,
)
from client.protocol.vocabulary import Decision, Priority, Role, Status
from server.domain.attachments import MAX_ATTACHMENTS, Attachment
from server.domain.errors import Invalid

__all__ = [
    "MAX_AREA",
    "MAX_BODY",
    "MAX_REASON",
    "MAX_SUBJECT",
    "ActivityWindow",
    "Actor",
    "BoundingBox",
    "Channel",
    "Chase",
    "Check",
    "Checks",
    "Notice",
    "NoticeContent",
    "PlanConflict",
    "Policy",
    "Proposal",
]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an operator, the party it speaks for, and its role."""

    party: str
    operator: str
    role: Role


def _by_priority(
    routine: timedelta, important: timedelta, urgent: timedelta
) -> Mapping[Priority, timedelta]:
    return {Priority.ROUTINE: routine, Priority.IMPORTANT: important, Priority.URGENT: urgent}


def _default_ack_deadlines() -> Mapping[Priority, timedelta]:
    return _by_priority(timedelta(days=3), timedelta(days=1), timedelta(hours=1))


def _default_min_advance() -> Mapping[Priority, timedelta]:
    # Urgent works (a burst main) cannot wait, so they need no advance notice.
    return _by_priority(timedelta(days=2), timedelta(hours=4), timedelta(0))


@dataclass(frozen=True, slots=True)
class Chase:
    """How the channel chases a notice left undecided past its deadline.

    Every time is counted from the acknowledgement deadline (the ``notice.overdue`` moment):
    the receiving party is reminded ``remind_after`` later, then every ``remind_every``,
    ``reminders`` times in all; the notice escalates once, ``escalate_after`` later. A
    decision or a cancellation stops the chase.
    """

    remind_after: timedelta
    remind_every: timedelta
    reminders: int
    """How many reminders at most; 0 sends none."""
    escalate_after: timedelta | None
    """``None``: the notice never escalates."""

    def __post_init__(self) -> None:
        if self.remind_after < timedelta(0) or self.remind_every <= timedelta(0):
            raise Invalid(
                "reminders come after the deadline, a positive time apart", field="policy"
            )
        if not 0 <= self.reminders <= MAX_REMINDERS:
            raise Invalid(f"a notice is reminded 0 to {MAX_REMINDERS} times", field="policy")
        if self.escalate_after is not None and self.escalate_after < timedelta(0):
            raise Invalid("a notice escalates after its deadline, not before", field="policy")

    def reminder_at(self, deadline: datetime, n: int) -> datetime:
        """When reminder ``n`` (counted from 1) is due."""
        return deadline + self.remind_after + (n - 1) * self.remind_every


MAX_REMINDERS = 20
"""Reminders a notice may get at most: the log of an unanswered notice stays bounded."""


@dataclass(frozen=True, slots=True)
class Checks:
    """Liveness checks: every ``every``, each party is asked to answer within ``answer_within``."""

    every: timedelta
    answer_within: timedelta

    def __post_init__(self) -> None:
        if self.every < MIN_CHECK_INTERVAL:
            raise Invalid("checks may come at most once a minute", field="policy")
        if not timedelta(0) < self.answer_within < self.every:
            raise Invalid(
                "a check's answer window must be shorter than the time between checks",
                field="policy",
            )


MIN_CHECK_INTERVAL = timedelta(minutes=1)


def _default_chase() -> Mapping[Priority, Chase]:
    hour = timedelta(hours=1)
    return {
        Priority.ROUTINE: Chase(24 * hour, 24 * hour, 2, 72 * hour),
        Priority.IMPORTANT: Chase(2 * hour, 2 * hour, 3, 8 * hour),
        Priority.URGENT: Chase(hour / 4, hour / 4, 4, hour),
    }


@dataclass(frozen=True)
class Policy:
    """A channel's rules: deadlines, advance notice, signatures, chasing and liveness checks.

    The two parties agree to it: a change takes effect only when an admin of each party
    has had their say (``channel.policy_proposed``, then ``channel.policy_changed``).
    """

    ack_deadlines: Mapping[Priority, timedelta] = field(default_factory=_default_ack_deadlines)
    """Time from sending to the acknowledgement deadline, per priority."""
    min_advance_notice: Mapping[Priority, timedelta] = field(default_factory=_default_min_advance)
    """How long before its activity window starts a notice must be sent, per priority."""
    require_signatures: bool = False
    """Whether notices and decisions must carry their operator's signature."""
    chase: Mapping[Priority, Chase] = field(default_factory=_default_chase)
    """Reminders and escalation after a missed deadline, per priority."""
    escalate_to: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per party, the operators on duty that escalations go to; a party absent: its admins."""
    checks: Checks | None = None
    """Liveness checks, or ``None`` for none."""
    mail_when_offline: bool = False
    """Whether a notice nobody of the receiving party has seen a while later (none of its
    operators connected, not received) is mailed to that party's operators."""

    def __post_init__(self) -> None:
        for name, spans in (
            ("ack_deadlines", self.ack_deadlines),
            ("min_advance_notice", self.min_advance_notice),
            ("chase", self.chase),
        ):
            if set(spans) != set(Priority):
                raise Invalid(f"{name} must name every priority exactly once", field="policy")
        if any(span <= timedelta(0) for span in self.ack_deadlines.values()):
            raise Invalid("acknowledgement deadlines must be positive", field="policy")
        if any(span < timedelta(0) for span in self.min_advance_notice.values()):
            raise Invalid("advance notice cannot be negative", field="policy")


@dataclass(frozen=True, slots=True)
class Proposal:
    """A policy one party's admin proposed, waiting for the other party's admin."""

    id: UUID
    policy: Policy
    party: str
    operator: str
    proposed_at: datetime
    lapses_at: datetime
    """After this moment it can no longer be accepted; the log needs no event to say so."""

    def open_at(self, now: datetime) -> bool:
        """Whether it can still be accepted or withdrawn at ``now``."""
        return now < self.lapses_at


@dataclass(frozen=True, slots=True)
class Channel:
    """Exactly two parties, one policy and one log."""

    id: str
    parties: tuple[str, str]
    policy: Policy = field(default_factory=Policy)
    policy_id: UUID | None = None
    """The proposal that set the policy in force; ``None`` for the one the channel began with."""
    proposal: Proposal | None = None
    """The proposal waiting for an answer, if any (it may have lapsed since)."""

    def has_party(self, party: str) -> bool:
        """Whether ``party`` is one of the two ends of this channel."""
        return party in self.parties

    def other_party(self, party: str) -> str:
        """The party at the other end from ``party``."""
        first, second = self.parties
        return second if party == first else first


@dataclass(frozen=True, slots=True)
class ActivityWindow:
    """When the announced activity takes place; ``ends_at`` is after ``starts_at``."""

    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise Invalid("activity times must carry a time zone", field="activity")
        if self.ends_at <= self.starts_at:
            raise Invalid("the activity window must end after it starts", field="activity")


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Where, as a box of longitudes and latitudes: the ``bbox`` of RFC 7946 (GeoJSON) §5.

    ``west`` greater than ``east`` is a box that crosses the antimeridian.
    """

    west: float
    south: float
    east: float
    north: float

    def __post_init__(self) -> None:
        values = (self.west, self.south, self.east, self.north)
        if not all(math.isfinite(v) for v in values):
            raise Invalid("bbox values must be finite numbers", field="bbox")
        if not (-180 <= self.west <= 180 and -180 <= self.east <= 180):
            raise Invalid("bbox longitudes must be within -180 and 180", field="bbox")
        if not -90 <= self.south <= self.north <= 90:
            raise Invalid("bbox latitudes must be within -90 and 90, south first", field="bbox")

    def as_list(self) -> list[float]:
        """``[west, south, east, north]``, as the wire spells it."""
        return [self.west, self.south, self.east, self.north]


@dataclass(frozen=True, slots=True)
class NoticeContent:
    """What the sender says: the part of a notice that idempotency compares."""

    subject: str
    body: str = ""
    priority: Priority = Priority.ROUTINE
    activity: ActivityWindow | None = None
    area: str | None = None
    ack_required: bool = True
    refers_to: UUID | None = None
    bbox: BoundingBox | None = None
    """Where, more precisely than ``area``; only with an area (the label names the place)."""
    attachments: tuple[Attachment, ...] = ()
    """The files it carries, in the sender's order, each uploaded to the channel first."""

    def __post_init__(self) -> None:
        if not self.subject.strip() or len(self.subject) > MAX_SUBJECT:
            raise Invalid(f"subject must be 1 to {MAX_SUBJECT} characters", field="subject")
        if len(self.body) > MAX_BODY:
            raise Invalid(f"body must be at most {MAX_BODY} characters", field="body")
        if self.area is not None and (not self.area.strip() or len(self.area) > MAX_AREA):
            raise Invalid(f"area must be 1 to {MAX_AREA} characters", field="area")
        if self.bbox is not None and self.area is None:
            raise Invalid("a bbox needs an area: the label names the place", field="bbox")
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise Invalid(f"a notice carries at most {MAX_ATTACHMENTS} files", field="attachments")
        if len({a.sha256 for a in self.attachments}) < len(self.attachments):
            raise Invalid("a notice lists each file once", field="attachments")
        for field_name, check, value in (
            ("subject", check_line, self.subject),
            ("body", check_text, self.body),
            ("area", check_line, self.area or ""),
        ):
            try:
                check(value)
            except ValueError as exc:
                raise Invalid(f"{field_name}: {exc}", field=field_name) from None


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice and everything that has happened to it so far."""

    id: UUID
    channel: str
    sender_party: str
    sender_operator: str
    content: NoticeContent
    status: Status
    sent_at: datetime
    ack_due_at: datetime | None = None
    client_time: datetime | None = None
    received_at: datetime | None = None
    received_by: str | None = None
    decision: Decision | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    overdue_at: datetime | None = None
    reminded: int = 0
    """How many reminders the chase has logged (``notice.reminded``)."""
    escalated_at: datetime | None = None
    """When the chase escalated it (``notice.escalated``), if it did."""
    signature: str | None = None
    """The sending operator's signature, as logged; a retry is a repeat only if it agrees."""


@dataclass(frozen=True, slots=True)
class Check:
    """One liveness check: the server asked ``party`` to show that somebody is listening."""

    id: UUID
    channel: str
    party: str
    due_at: datetime
    """When the schedule wanted it asked."""
    requested_at: datetime
    answer_by: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None
    missed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlanConflict:
    """Two planned activities in one area at once (``conflict.detected``), until resolved."""

    id: UUID
    channel: str
    notices: tuple[UUID, UUID]
    """The earlier notice first, then the one whose sending revealed the conflict."""
    detected_at: datetime
    resolved_at: datetime | None = None
