"""What happened: the events the rules produce, and how each changes a notice.

An event is a fact in the past tense. ``evolve`` folds one into a notice's state, so the
state of any notice is the result of replaying its events: the store keeps that state in
a table only so that reading it is fast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from client.protocol.times import format_time
from client.protocol.vocabulary import Decision, EventType, Status
from server.domain.model import Notice

__all__ = [
    "Event",
    "LogEvent",
    "NoticeCancelled",
    "NoticeDecided",
    "NoticeOverdue",
    "NoticeReceived",
    "NoticeSent",
    "OperatorKeyRegistered",
    "evolve",
]


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


@dataclass(frozen=True, slots=True)
class NoticeSent:
    """A party sent a notice; ``notice`` is its state at that moment."""

    notice: Notice
    signature: str | None = None
    """The sending operator's signature, if it signed (see client/protocol/signatures.py)."""
    type: ClassVar[EventType] = EventType.NOTICE_SENT

    @property
    def notice_id(self) -> UUID:
        return self.notice.id

    @property
    def at(self) -> datetime:
        return self.notice.sent_at

    @property
    def party(self) -> str | None:
        return self.notice.sender_party

    @property
    def operator(self) -> str | None:
        return self.notice.sender_operator

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        n, c = self.notice, self.notice.content
        activity = None
        if c.activity is not None:
            activity = {
                "starts_at": format_time(c.activity.starts_at),
                "ends_at": format_time(c.activity.ends_at),
            }
        data = {
            "notice": str(n.id),
            "subject": c.subject,
            "body": c.body,
            "priority": c.priority.value,
            "activity": activity,
            "area": c.area,
            "ack_required": c.ack_required,
            "refers_to": None if c.refers_to is None else str(c.refers_to),
            "ack_due_at": _time(n.ack_due_at),
            "client_time": _time(n.client_time),
        }
        return _with_signature(data, self.signature)


@dataclass(frozen=True, slots=True)
class NoticeReceived:
    """A client of the receiving party has the notice (recorded once)."""

    notice_id: UUID
    at: datetime
    party: str | None
    operator: str | None
    type: ClassVar[EventType] = EventType.NOTICE_RECEIVED

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {"notice": str(self.notice_id)}


@dataclass(frozen=True, slots=True)
class NoticeDecided:
    """An operator of the receiving party acknowledged the notice or objected to it."""

    notice_id: UUID
    at: datetime
    party: str | None
    operator: str | None
    decision: Decision
    reason: str | None = None
    client_time: datetime | None = None
    signature: str | None = None
    """The deciding operator's signature, if it signed."""

    @property
    def type(self) -> EventType:
        if self.decision is Decision.ACKNOWLEDGED:
            return EventType.NOTICE_ACKNOWLEDGED
        return EventType.NOTICE_OBJECTED

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        data = {
            "notice": str(self.notice_id),
            "reason": self.reason,
            "client_time": _time(self.client_time),
        }
        return _with_signature(data, self.signature)


@dataclass(frozen=True, slots=True)
class NoticeCancelled:
    """The sending party withdrew the notice."""

    notice_id: UUID
    at: datetime
    party: str | None
    operator: str | None
    reason: str | None = None
    type: ClassVar[EventType] = EventType.NOTICE_CANCELLED

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {"notice": str(self.notice_id), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class NoticeOverdue:
    """The acknowledgement deadline passed with no decision; the server itself says so."""

    notice_id: UUID
    at: datetime
    due_at: datetime
    type: ClassVar[EventType] = EventType.NOTICE_OVERDUE
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {"notice": str(self.notice_id), "due_at": format_time(self.due_at)}


@dataclass(frozen=True, slots=True)
class OperatorKeyRegistered:
    """An operator made its public key known on a channel: it checks its signatures from now."""

    at: datetime
    party: str
    operator: str
    verifier_key: str
    type: ClassVar[EventType] = EventType.OPERATOR_KEY_REGISTERED
    notice_id: ClassVar[UUID | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {"operator": self.operator, "verifier_key": self.verifier_key}


Event = NoticeSent | NoticeReceived | NoticeDecided | NoticeCancelled | NoticeOverdue
"""Any event of a notice's life: what the rules produce for a notice command."""

LogEvent = Event | OperatorKeyRegistered
"""Any event a channel's log holds."""


def _with_signature(data: dict[str, Any], signature: str | None) -> dict[str, Any]:
    # Only signed events carry the member, so an unsigned one reads as it always did.
    return data if signature is None else {**data, "signature": signature}


def evolve(notice: Notice | None, event: Event) -> Notice:
    """Return the state of ``notice`` after ``event``.

    Raises:
        ValueError: the event cannot follow that state (a bug in the rules, never input).
    """
    if isinstance(event, NoticeSent):
        return replace(event.notice, signature=event.signature)
    if notice is None:
        raise ValueError(f"{event.type} before notice.sent")
    match event:
        case NoticeReceived():
            status = Status.DELIVERED if notice.status is Status.SENT else notice.status
            return replace(notice, status=status, received_at=event.at, received_by=event.operator)
        case NoticeDecided():
            return replace(
                notice,
                status=Status(event.decision.value),
                decision=event.decision,
                decided_at=event.at,
                decided_by=event.operator,
                reason=event.reason,
            )
        case NoticeCancelled():
            return replace(
                notice,
                status=Status.CANCELLED,
                cancelled_at=event.at,
                cancelled_by=event.operator,
                cancel_reason=event.reason,
            )
        case NoticeOverdue():
            return replace(notice, status=Status.OVERDUE, overdue_at=event.at)
    raise ValueError(f"unknown event {event!r}")  # pragma: no cover - the union is closed
