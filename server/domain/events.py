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
from server.domain.model import ActivityWindow, Notice, Policy
from server.domain.policy import policy_wire

__all__ = [
    "CheckAnswered",
    "CheckEvent",
    "CheckMissed",
    "CheckRequested",
    "ConflictDetected",
    "ConflictEvent",
    "ConflictResolved",
    "Event",
    "LogEvent",
    "NoticeCancelled",
    "NoticeDecided",
    "NoticeEscalated",
    "NoticeOverdue",
    "NoticeReceived",
    "NoticeReminded",
    "NoticeSent",
    "OperatorKeyRegistered",
    "PolicyChanged",
    "PolicyEvent",
    "PolicyProposed",
    "PolicyWithdrawn",
    "WebhookDisabled",
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
        data: dict[str, Any] = {
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
        if c.bbox is not None:
            # Only a notice with a box carries the member, so older ones read as they did.
            data["bbox"] = c.bbox.as_list()
        if c.attachments:
            # Likewise: only a notice with files lists them, and the list is signed.
            data["attachments"] = [attachment.wire() for attachment in c.attachments]
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


@dataclass(frozen=True, slots=True)
class NoticeReminded:
    """The receiving party was reminded of a notice still undecided past its deadline."""

    notice_id: UUID
    at: datetime
    due_at: datetime
    receiver: str
    reminder: int
    """Which reminder this is, counted from 1."""
    of: int
    """How many the policy sends at most."""
    type: ClassVar[EventType] = EventType.NOTICE_REMINDED
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "notice": str(self.notice_id),
            "due_at": format_time(self.due_at),
            "party": self.receiver,
            "reminder": self.reminder,
            "of": self.of,
        }


@dataclass(frozen=True, slots=True)
class NoticeEscalated:
    """A notice still undecided went to the receiving party's admins or operators on duty."""

    notice_id: UUID
    at: datetime
    due_at: datetime
    receiver: str
    to: tuple[str, ...]
    """The operators it went to; empty when the party has nobody to escalate to."""
    type: ClassVar[EventType] = EventType.NOTICE_ESCALATED
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "notice": str(self.notice_id),
            "due_at": format_time(self.due_at),
            "party": self.receiver,
            "to": list(self.to),
        }


@dataclass(frozen=True, slots=True)
class CheckRequested:
    """The server asked a party to show that somebody is listening."""

    check_id: UUID
    at: datetime
    due_at: datetime
    asked: str
    answer_by: datetime
    type: ClassVar[EventType] = EventType.CHECK_REQUESTED
    notice_id: ClassVar[UUID | None] = None
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "check": str(self.check_id),
            "party": self.asked,
            "due_at": format_time(self.due_at),
            "answer_by": format_time(self.answer_by),
        }


@dataclass(frozen=True, slots=True)
class CheckAnswered:
    """An operator (or a client on its behalf) answered a check for its party."""

    check_id: UUID
    at: datetime
    party: str
    operator: str
    requested_at: datetime
    type: ClassVar[EventType] = EventType.CHECK_ANSWERED
    notice_id: ClassVar[UUID | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        waited = self.at - self.requested_at
        return {
            "check": str(self.check_id),
            "party": self.party,
            "requested_at": format_time(self.requested_at),
            "answered_in_ms": max(0, round(waited.total_seconds() * 1000)),
        }


@dataclass(frozen=True, slots=True)
class CheckMissed:
    """Nobody answered a check in time; it escalates like an overdue notice."""

    check_id: UUID
    at: datetime
    due_at: datetime
    asked: str
    to: tuple[str, ...]
    type: ClassVar[EventType] = EventType.CHECK_MISSED
    notice_id: ClassVar[UUID | None] = None
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "check": str(self.check_id),
            "party": self.asked,
            "due_at": format_time(self.due_at),
            "to": list(self.to),
        }


@dataclass(frozen=True, slots=True)
class ConflictDetected:
    """Two planned activities share an area and some time: both parties are told."""

    conflict_id: UUID
    at: datetime
    notices: tuple[UUID, UUID]
    area: str
    """The area as compared: its normalised label."""
    overlap: ActivityWindow
    type: ClassVar[EventType] = EventType.CONFLICT_DETECTED
    notice_id: ClassVar[UUID | None] = None
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "conflict": str(self.conflict_id),
            "notices": [str(n) for n in self.notices],
            "area": self.area,
            "overlap": {
                "starts_at": format_time(self.overlap.starts_at),
                "ends_at": format_time(self.overlap.ends_at),
            },
        }


@dataclass(frozen=True, slots=True)
class ConflictResolved:
    """A cancellation or an update removed a conflict."""

    conflict_id: UUID
    at: datetime
    notices: tuple[UUID, UUID]
    by: UUID
    """The notice cancelled, or the update that replaced one of the two."""
    reason: str
    """``cancelled`` or ``updated``."""
    type: ClassVar[EventType] = EventType.CONFLICT_RESOLVED
    notice_id: ClassVar[UUID | None] = None
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "conflict": str(self.conflict_id),
            "notices": [str(n) for n in self.notices],
            "by": str(self.by),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class PolicyProposed:
    """An admin of one party proposed a policy; it waits for the other party's admin."""

    proposal_id: UUID
    at: datetime
    party: str
    operator: str
    policy: Policy
    lapses_at: datetime
    supersedes: UUID | None = None
    """The proposal still waiting that this one replaces, if any."""
    type: ClassVar[EventType] = EventType.CHANNEL_POLICY_PROPOSED
    notice_id: ClassVar[UUID | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        data: dict[str, Any] = {
            "proposal": str(self.proposal_id),
            "policy": policy_wire(self.policy),
            "lapses_at": format_time(self.lapses_at),
        }
        if self.supersedes is not None:
            data["supersedes"] = str(self.supersedes)
        return data


@dataclass(frozen=True, slots=True)
class PolicyChanged:
    """An admin of the other party accepted a proposal: its policy is in force from now."""

    proposal_id: UUID
    at: datetime
    party: str
    operator: str
    policy: Policy
    proposed_by: tuple[str, str]
    """``(party, operator)`` of the proposal's admin."""
    type: ClassVar[EventType] = EventType.CHANNEL_POLICY_CHANGED
    notice_id: ClassVar[UUID | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        party, operator = self.proposed_by
        return {
            "proposal": str(self.proposal_id),
            "policy": policy_wire(self.policy),
            "proposed_by": {"party": party, "operator": operator},
        }


@dataclass(frozen=True, slots=True)
class PolicyWithdrawn:
    """An admin of the proposing party withdrew a proposal before it was accepted."""

    proposal_id: UUID
    at: datetime
    party: str
    operator: str
    type: ClassVar[EventType] = EventType.CHANNEL_POLICY_WITHDRAWN
    notice_id: ClassVar[UUID | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {"proposal": str(self.proposal_id)}


@dataclass(frozen=True, slots=True)
class WebhookDisabled:
    """The server stopped calling a party's webhook: it failed too often, or said it is gone.

    Logged so that both parties see, in the channel's own record, that a system which
    followed the channel by webhook no longer does (``server/service/webhooks.py``).
    """

    webhook_id: UUID
    at: datetime
    subscriber: str
    """The party whose subscription it was (the event's ``data.party``)."""
    failures: int
    """Deliveries to it given up in a row when it was disabled (each after all its tries,
    or refused for good)."""
    reason: str
    type: ClassVar[EventType] = EventType.WEBHOOK_DISABLED
    notice_id: ClassVar[UUID | None] = None
    party: ClassVar[str | None] = None
    operator: ClassVar[str | None] = None

    def data(self) -> dict[str, Any]:
        """The event's ``data`` object on the wire."""
        return {
            "webhook": str(self.webhook_id),
            "party": self.subscriber,
            "failures": self.failures,
            "reason": self.reason,
        }


Event = (
    NoticeSent
    | NoticeReceived
    | NoticeDecided
    | NoticeCancelled
    | NoticeOverdue
    | NoticeReminded
    | NoticeEscalated
)
"""Any event of a notice's life: what the rules produce for a notice command."""

CheckEvent = CheckRequested | CheckAnswered | CheckMissed
"""Any event of a liveness check."""

ConflictEvent = ConflictDetected | ConflictResolved
"""Any event about two clashing plans."""

PolicyEvent = PolicyProposed | PolicyChanged | PolicyWithdrawn
"""Any event of the two parties' agreement on a policy."""

LogEvent = (
    Event | OperatorKeyRegistered | CheckEvent | ConflictEvent | PolicyEvent | WebhookDisabled
)
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
        case NoticeReminded():
            # Its state is unchanged; counted, so that no step of the chase is logged twice.
            return replace(notice, reminded=max(notice.reminded, event.reminder))
        case NoticeEscalated():
            return replace(notice, escalated_at=event.at)
    raise ValueError(f"unknown event {event!r}")  # pragma: no cover - the union is closed
