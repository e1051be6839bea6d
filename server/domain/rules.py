"""The channel's rules: given a command and the state it meets, the events it produces.

Every function here is pure. It is handed the channel, the acting operator, the notice as
it stands (or ``None``) and the server's clock reading, and it either returns the events
the command causes (possibly none, for a harmless repeat) or raises a
:class:`~server.domain.errors.Refusal` that says why not. The store persists what comes
back; nothing here can reach a database or a socket.

The table of who may do what, in which state, is in docs/explanation/life-of-a-notice.md
and is tested row by row in tests/unit/test_rules.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from client.protocol.note import NoteError, Verifier
from client.protocol.signatures import SignatureError, signed_content, verify
from client.protocol.times import to_millisecond
from client.protocol.vocabulary import Decision, Role, Status
from server.domain.conflicts import Plan, conflict_id, conflicts_with, plan_of
from server.domain.errors import (
    AlreadyDecided,
    BadKey,
    BadSignature,
    Forbidden,
    IdempotencyConflict,
    Invalid,
    NotFound,
    NoticeClosed,
    SignatureRequired,
)
from server.domain.events import (
    ConflictDetected,
    ConflictResolved,
    Event,
    LogEvent,
    NoticeCancelled,
    NoticeDecided,
    NoticeOverdue,
    NoticeReceived,
    NoticeSent,
    OperatorKeyRegistered,
)
from server.domain.model import (
    MAX_REASON,
    Actor,
    Channel,
    Notice,
    NoticeContent,
    PlanConflict,
)

__all__ = [
    "Cancel",
    "Command",
    "Decide",
    "MarkOverdue",
    "RecordReceipt",
    "RegisterKey",
    "SendNotice",
    "decide",
    "register_key",
    "replaces",
]

AWAITING_DECISION = frozenset({Status.SENT, Status.DELIVERED, Status.OVERDUE})


@dataclass(frozen=True, slots=True)
class SendNotice:
    """Send ``content`` under the client-chosen id ``notice_id``."""

    notice_id: UUID
    content: NoticeContent
    client_time: datetime | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class RecordReceipt:
    """A client of the receiving party confirms that it has the notice."""

    notice_id: UUID


@dataclass(frozen=True, slots=True)
class Decide:
    """Acknowledge the notice, or object to it with a reason."""

    notice_id: UUID
    decision: Decision
    reason: str | None = None
    client_time: datetime | None = None
    signature: str | None = None

    def __post_init__(self) -> None:
        if self.decision is Decision.OBJECTED and not (self.reason or "").strip():
            raise Invalid("an objection needs a reason", field="reason")
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise Invalid(f"reason must be at most {MAX_REASON} characters", field="reason")


@dataclass(frozen=True, slots=True)
class Cancel:
    """The sending party withdraws the notice."""

    notice_id: UUID
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise Invalid(f"reason must be at most {MAX_REASON} characters", field="reason")


@dataclass(frozen=True, slots=True)
class MarkOverdue:
    """The server's deadline watcher: the notice's acknowledgement deadline has passed."""

    notice_id: UUID


Command = SendNotice | RecordReceipt | Decide | Cancel | MarkOverdue
"""Any command about a notice that the rules accept."""


@dataclass(frozen=True, slots=True)
class RegisterKey:
    """An operator makes its public key known, to check the signatures it makes from now."""

    verifier_key: str


def decide(
    command: Command,
    *,
    channel: Channel,
    actor: Actor | None,
    notice: Notice | None,
    now: datetime,
    referenced: Notice | None = None,
    key: str | None = None,
    plans: Sequence[Plan] = (),
    conflicts: Sequence[PlanConflict] = (),
) -> list[LogEvent]:
    """Return the events ``command`` causes, or raise why it is refused.

    Args:
        command: what is asked.
        channel: the channel the command is addressed to; the caller already checked
            that the actor's party is one of its two.
        actor: the operator asking, or ``None`` for the server itself (deadlines).
        notice: the notice with the command's id as it stands now, or ``None``.
        now: the server's clock, stamped on every event.
        referenced: for a ``SendNotice`` that refers to an earlier notice, that notice.
        key: the actor's verifier key in force on the channel, if it registered one; it
            checks the signature of a ``SendNotice`` or ``Decide``.
        plans: for a ``SendNotice`` with an activity window and an area, the plans of the
            channel still active in that area (not cancelled, not replaced by an update,
            not ended), to find the ones it conflicts with.
        conflicts: the unresolved conflicts of the notice a ``Cancel`` names, or of the
            notice a ``SendNotice`` updates (``refers_to``, same party, with a window).

    Returns:
        The new events in log order; empty when the command repeats one already applied.

    Raises:
        Refusal: a subclass saying why the command cannot be carried out.
    """
    now = to_millisecond(now)  # the wire spells times to the millisecond; so does the state
    if isinstance(command, MarkOverdue):
        if actor is not None:
            raise Forbidden("only the server itself marks a notice overdue")
        return [*_mark_overdue(notice, channel, now)]
    if actor is None:
        raise Forbidden("only the server itself may act without an operator")
    match command:
        case SendNotice():
            sent = _send(command, channel, actor, notice, now, referenced, key)
            return [*sent, *_send_conflicts(sent, referenced, plans, conflicts, now)]
        case RecordReceipt():
            found = _found(notice, channel, command.notice_id)
            return [*_receive(found, actor, now)]
        case Decide():
            found = _found(notice, channel, command.notice_id)
            return [*_decide(command, found, channel, actor, now, key)]
        case Cancel():
            found = _found(notice, channel, command.notice_id)
            cancelled = _cancel(command, found, actor, now)
            if not cancelled:
                return []
            return [*cancelled, *_resolve(conflicts, found.id, found.id, "cancelled", now)]
    raise TypeError(f"unknown command {command!r}")  # pragma: no cover - the union is closed


def _found(notice: Notice | None, channel: Channel, notice_id: UUID) -> Notice:
    # A notice of another channel is as invisible as one that does not exist.
    if notice is None or notice.channel != channel.id:
        raise NotFound(f"no notice {notice_id} in channel {channel.id}", notice_id=notice_id)
    return notice


def _require_operator(actor: Actor, doing: str) -> None:
    if actor.role is not Role.OPERATOR:
        raise Forbidden(f"an operator with the {actor.role} role may not {doing}")


def _send(
    command: SendNotice,
    channel: Channel,
    actor: Actor,
    existing: Notice | None,
    now: datetime,
    referenced: Notice | None,
    key: str | None,
) -> list[Event]:
    _require_operator(actor, "send notices")
    content = command.content
    due = now + channel.policy.ack_deadlines[content.priority] if content.ack_required else None
    notice = Notice(
        id=command.notice_id,
        channel=channel.id,
        sender_party=actor.party,
        sender_operator=actor.operator,
        content=content,
        status=Status.SENT,
        sent_at=now,
        ack_due_at=due,
        client_time=command.client_time,
    )
    sent = NoticeSent(notice, signature=command.signature)
    if existing is not None:
        return _repeat(command, existing, sent, channel, actor, key)
    _check_signature(sent, command.signature, channel, actor, key)
    if content.refers_to is not None and (referenced is None or referenced.channel != channel.id):
        raise Invalid(f"refers_to names no notice of channel {channel.id}", field="refers_to")
    if content.activity is not None:
        advance = channel.policy.min_advance_notice[content.priority]
        # With no minimum (urgent works), even works already under way may be announced.
        if advance and content.activity.starts_at - now < advance:
            raise Invalid(
                f"{content.priority} notices must be sent at least {_describe(advance)} "
                "before the activity starts",
                field="activity",
            )
    return [sent]


def _send_conflicts(
    sent: list[Event],
    referenced: Notice | None,
    plans: Sequence[Plan],
    conflicts: Sequence[PlanConflict],
    now: datetime,
) -> list[LogEvent]:
    """What a new notice does to the channel's conflicts: resolves its old plan's, finds new."""
    if not sent or not isinstance(sent[0], NoticeSent):
        return []  # a retry: everything was said the first time
    notice = sent[0].notice
    plan = plan_of(notice)
    events: list[LogEvent] = []
    if replaces(notice, referenced) and referenced is not None:
        events.extend(_resolve(conflicts, referenced.id, notice.id, "updated", now))
    if plan is None:
        return events
    for earlier, shared in conflicts_with(plan, plans):
        pair = (earlier.notice_id, notice.id)
        events.append(ConflictDetected(conflict_id(*pair), now, pair, plan.area, shared))
    return events


def replaces(notice: Notice, referenced: Notice | None) -> bool:
    """Whether ``notice`` is an update that replaces the plan of the notice it refers to.

    It does when the same party sends it, and it carries a window of its own: a reply of
    the other party, or an addendum without a window, leaves the earlier plan standing.
    """
    return (
        referenced is not None
        and notice.content.refers_to == referenced.id
        and referenced.sender_party == notice.sender_party
        and notice.content.activity is not None
    )


def _resolve(
    conflicts: Sequence[PlanConflict], notice_id: UUID, by: UUID, reason: str, now: datetime
) -> list[LogEvent]:
    return [
        ConflictResolved(c.id, now, c.notices, by, reason)
        for c in conflicts
        if c.resolved_at is None and notice_id in c.notices
    ]


def _repeat(
    command: SendNotice,
    existing: Notice,
    sent: NoticeSent,
    channel: Channel,
    actor: Actor,
    key: str | None,
) -> list[Event]:
    """A send under an id already used: a retry (no events), or a conflict."""
    same = (
        existing.channel == channel.id
        and existing.sender_party == actor.party
        and existing.content == command.content
        # Signed and unsigned are different content: answering a signed retry of an
        # unsigned send with success would let the client believe the log holds its
        # signature.
        and (existing.signature is None) == (command.signature is None)
    )
    if not same:
        raise IdempotencyConflict(
            f"notice id {command.notice_id} was already used for other content",
            notice_id=command.notice_id,
        )
    if command.signature != existing.signature:
        # Another signature of the same content (a later client_time, or a newer key): a
        # claim like any other, and a false one an error. The stored one needs no
        # re-checking: it verified when it was logged, and the key in force may have
        # changed since.
        _check_signature(sent, command.signature, channel, actor, key)
    return []  # a retry of a send that already happened: answer with the original


def _check_signature(
    event: NoticeSent | NoticeDecided,
    signature: str | None,
    channel: Channel,
    actor: Actor,
    key: str | None,
) -> None:
    """Refuse a false signature, or a missing one where the policy requires it."""
    if signature is None:
        if channel.policy.require_signatures:
            raise SignatureRequired(
                f"channel {channel.id} requires notices and decisions signed by their operator"
            )
        return
    if key is None:
        raise BadSignature(
            f"unknown key: operator {actor.operator} has registered no key on channel {channel.id}"
        )
    content = signed_content(
        channel=channel.id,
        event_type=event.type,
        party=actor.party,
        operator=actor.operator,
        data=event.data(),
    )
    try:
        verify(key, content, signature)
    except (SignatureError, NoteError) as error:
        raise BadSignature(str(error)) from None


def _describe(span: timedelta) -> str:
    """A duration as people say it: "2 days", "4 hours", "1 day 6 hours"."""
    minutes = int(span.total_seconds()) // 60
    parts = []
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count > 1 else ''}")
    return " ".join(parts) or "0 minutes"


def _receive(notice: Notice, actor: Actor, now: datetime) -> list[Event]:
    # Any role will do: a receipt records that the party's client has the notice, which
    # is as true of an observer's console as of an operator's.
    if actor.party == notice.sender_party:
        raise Forbidden("only the receiving party confirms receipt of a notice")
    if notice.received_at is not None:
        return []  # received once; later confirmations change nothing and log nothing
    return [NoticeReceived(notice.id, now, actor.party, actor.operator)]


def _decide(
    command: Decide,
    notice: Notice,
    channel: Channel,
    actor: Actor,
    now: datetime,
    key: str | None,
) -> list[Event]:
    _require_operator(actor, "acknowledge or object")
    if actor.party == notice.sender_party:
        raise Forbidden("a party cannot acknowledge or object to its own notice")
    decided = NoticeDecided(
        notice.id,
        now,
        actor.party,
        actor.operator,
        command.decision,
        reason=command.reason,
        client_time=command.client_time,
        signature=command.signature,
    )
    # The first decision stands, whatever the second carries: a retry of it is told so,
    # even when its signature no longer matches a key registered since.
    if notice.decision is not None:
        raise AlreadyDecided(
            f"notice {notice.id} was already {notice.decision} by {notice.decided_by}",
            notice=notice,
        )
    if notice.status is Status.CANCELLED:
        raise NoticeClosed(f"notice {notice.id} was cancelled", notice_id=notice.id)
    _check_signature(decided, command.signature, channel, actor, key)
    events: list[Event] = []
    if notice.received_at is None:
        # Deciding from the inbox implies the party has the notice.
        events.append(NoticeReceived(notice.id, now, actor.party, actor.operator))
    events.append(decided)
    return events


def _cancel(command: Cancel, notice: Notice, actor: Actor, now: datetime) -> list[Event]:
    _require_operator(actor, "cancel notices")
    if actor.party != notice.sender_party:
        raise Forbidden("only the sending party can cancel a notice")
    if notice.status is Status.CANCELLED:
        return []  # a retried cancellation: already done
    if notice.status not in AWAITING_DECISION:
        raise NoticeClosed(
            f"notice {notice.id} was already {notice.status}; send a new notice that "
            "refers to it instead",
            notice_id=notice.id,
        )
    return [NoticeCancelled(notice.id, now, actor.party, actor.operator, command.reason)]


def _mark_overdue(notice: Notice | None, channel: Channel, now: datetime) -> list[Event]:
    if (
        notice is None
        or notice.channel != channel.id
        or notice.ack_due_at is None
        or notice.ack_due_at > now
        or notice.status not in {Status.SENT, Status.DELIVERED}
    ):
        return []  # decided, cancelled or already overdue meanwhile: nothing to say
    return [NoticeOverdue(notice.id, now, notice.ack_due_at)]


def register_key(
    command: RegisterKey, *, channel: Channel, actor: Actor, key: str | None, now: datetime
) -> list[OperatorKeyRegistered]:
    """Return the event that registers an operator's key, or raise why it is refused.

    Args:
        command: the key to register.
        channel: the channel it is registered on; the caller already checked that the
            actor's party is one of its two.
        actor: the operator registering its own key.
        key: the actor's verifier key in force on the channel, if any.
        now: the server's clock.

    Returns:
        The ``operator.key_registered`` event; none if that key is already in force.

    Raises:
        Forbidden: the actor is not an operator with the ``operator`` role.
        BadKey: the key is malformed, or not named after the actor.
    """
    _require_operator(actor, "register signing keys")
    try:
        verifier = Verifier.parse(command.verifier_key)
    except NoteError as error:
        raise BadKey(str(error)) from None
    if verifier.name != actor.operator:
        raise BadKey(
            f"the key is named {verifier.name!r}: an operator's key must be named after it, "
            f"{actor.operator!r}"
        )
    if str(verifier) == key:
        return []  # already in force: registering it again changes nothing
    return [OperatorKeyRegistered(to_millisecond(now), actor.party, actor.operator, str(verifier))]
