"""The things a channel is made of, as plain immutable values.

Nothing here knows about HTTP or SQL. The store turns rows into these values and back;
the rules (``rules.py``) take them and return events.
"""

from __future__ import annotations

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
from server.domain.errors import Invalid

__all__ = [
    "MAX_AREA",
    "MAX_BODY",
    "MAX_REASON",
    "MAX_SUBJECT",
    "ActivityWindow",
    "Actor",
    "Channel",
    "Notice",
    "NoticeContent",
    "Policy",
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


@dataclass(frozen=True)
class Policy:
    """A channel's rules: how long the receiver has to answer, how early works are announced."""

    ack_deadlines: Mapping[Priority, timedelta] = field(default_factory=_default_ack_deadlines)
    """Time from sending to the acknowledgement deadline, per priority."""
    min_advance_notice: Mapping[Priority, timedelta] = field(default_factory=_default_min_advance)
    """How long before its activity window starts a notice must be sent, per priority."""
    require_signatures: bool = False
    """Whether notices and decisions must carry their operator's signature."""


@dataclass(frozen=True, slots=True)
class Channel:
    """Exactly two parties, one policy and one log."""

    id: str
    parties: tuple[str, str]
    policy: Policy = field(default_factory=Policy)

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
class NoticeContent:
    """What the sender says: the part of a notice that idempotency compares."""

    subject: str
    body: str = ""
    priority: Priority = Priority.ROUTINE
    activity: ActivityWindow | None = None
    area: str | None = None
    ack_required: bool = True
    refers_to: UUID | None = None

    def __post_init__(self) -> None:
        if not self.subject.strip() or len(self.subject) > MAX_SUBJECT:
            raise Invalid(f"subject must be 1 to {MAX_SUBJECT} characters", field="subject")
        if len(self.body) > MAX_BODY:
            raise Invalid(f"body must be at most {MAX_BODY} characters", field="body")
        if self.area is not None and (not self.area.strip() or len(self.area) > MAX_AREA):
            raise Invalid(f"area must be 1 to {MAX_AREA} characters", field="area")
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
    signature: str | None = None
    """The sending operator's signature, as logged; a retry is a repeat only if it agrees."""
