"""Every query Hotline makes, behind one small class per session.

Services call these methods; nothing outside ``server/store`` writes SQL. Rows become
domain values (``server.domain.model``) or wire events on the way out.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from client.protocol import schemas
from client.protocol.times import format_time, parse_time
from client.protocol.vocabulary import Decision, EventType, Priority, Role, Status
from server.domain.attachments import Attachment
from server.domain.conflicts import area_key
from server.domain.model import (
    ActivityWindow,
    Actor,
    BoundingBox,
    Channel,
    Notice,
    NoticeContent,
    Policy,
    Proposal,
)
from server.domain.policy import policy_of_wire, policy_wire
from server.store.models import (
    ChannelRow,
    DueActionRow,
    EventRow,
    NoticeRow,
    OperatorRow,
    PartyRow,
    TokenRow,
)

__all__ = [
    "Identity",
    "NoticeFilter",
    "Repository",
    "StoredEvent",
    "WaitingDue",
    "channel_of_row",
    "notice_columns",
    "notice_of_row",
    "policy_from_json",
    "policy_to_json",
    "proposal_from_json",
    "proposal_to_json",
    "wire_event",
]


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated operator with the names a person reads."""

    actor: Actor
    operator_name: str
    party_name: str
    token_id: uuid.UUID
    """The id of the token it authenticated with (never the token itself)."""
    email: str | None = None
    """Where the operator's mail goes, if it said."""


@dataclass(frozen=True, slots=True)
class WaitingDue:
    """A row of ``due_actions`` as stored: its kind as text, since it may be one that
    this version cannot fire."""

    id: uuid.UUID
    kind: str
    channel: str
    subject: uuid.UUID
    due_at: datetime


@dataclass(frozen=True, slots=True)
class NoticeFilter:
    """Which notices a listing returns."""

    status: Status | None = None
    priority: Priority | None = None
    sent_by: str | None = None
    """Only notices sent by this party."""
    awaiting_decision: bool = False
    """Only notices that still need an acknowledgement or objection."""


def policy_to_json(policy: Policy) -> str:
    """Serialise a policy in its JSON form (``server/domain/policy.py``), keys sorted."""
    return json.dumps(policy_wire(policy), sort_keys=True)


def policy_from_json(text: str) -> Policy:
    """Read a policy written by :func:`policy_to_json`, or by an older version of it."""
    return policy_of_wire(json.loads(text))


def proposal_to_json(proposal: Proposal | None) -> str | None:
    """A proposal waiting for an answer as JSON (``channels.proposal``), or ``None``."""
    if proposal is None:
        return None
    return json.dumps(
        {
            "id": str(proposal.id),
            "policy": policy_wire(proposal.policy),
            "party": proposal.party,
            "operator": proposal.operator,
            "proposed_at": format_time(proposal.proposed_at),
            "lapses_at": format_time(proposal.lapses_at),
        },
        sort_keys=True,
    )


def proposal_from_json(text: str | None) -> Proposal | None:
    """Read a proposal written by :func:`proposal_to_json`."""
    if text is None:
        return None
    raw = json.loads(text)
    return Proposal(
        id=uuid.UUID(raw["id"]),
        policy=policy_of_wire(raw["policy"]),
        party=raw["party"],
        operator=raw["operator"],
        proposed_at=parse_time(raw["proposed_at"]),
        lapses_at=parse_time(raw["lapses_at"]),
    )


class StoredChannel(Protocol):
    """A row of the ``channels`` table, as an ORM ``ChannelRow`` or a Core row of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def party_a(self) -> str: ...
    @property
    def party_b(self) -> str: ...
    @property
    def policy(self) -> str: ...
    @property
    def policy_id(self) -> uuid.UUID | None: ...
    @property
    def proposal(self) -> str | None: ...


def channel_of_row(row: StoredChannel) -> Channel:
    """A channel row (or a Core row with its columns) as the domain's ``Channel``."""
    return Channel(
        id=row.id,
        parties=(row.party_a, row.party_b),
        policy=policy_from_json(row.policy),
        policy_id=row.policy_id,
        proposal=proposal_from_json(row.proposal),
    )


def notice_of_row(row: NoticeRow) -> Notice:
    """A notice row (or a Core row with its columns) as the domain's ``Notice``."""
    activity = None
    if row.starts_at is not None and row.ends_at is not None:
        activity = ActivityWindow(row.starts_at, row.ends_at)
    content = NoticeContent(
        subject=row.subject,
        body=row.body,
        priority=Priority(row.priority),
        activity=activity,
        area=row.area,
        ack_required=row.ack_required,
        refers_to=row.refers_to,
        bbox=None if row.bbox is None else BoundingBox(*json.loads(row.bbox)),
        attachments=_attachments_of_json(row.attachments),
    )
    return Notice(
        id=row.id,
        channel=row.channel_id,
        sender_party=row.sender_party,
        sender_operator=row.sender_operator,
        content=content,
        status=Status(row.status),
        sent_at=row.sent_at,
        ack_due_at=row.ack_due_at,
        client_time=row.client_time,
        received_at=row.received_at,
        received_by=row.received_by,
        decision=None if row.decision is None else Decision(row.decision),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        reason=row.reason,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
        cancel_reason=row.cancel_reason,
        overdue_at=row.overdue_at,
        reminded=row.reminded,
        escalated_at=row.escalated_at,
        signature=row.signature,
    )


def notice_columns(notice: Notice) -> dict[str, Any]:
    """A notice's columns, but for ``id`` and ``sent_seq``, as a row to write."""
    c = notice.content
    return {
        "channel_id": notice.channel,
        "sender_party": notice.sender_party,
        "sender_operator": notice.sender_operator,
        "subject": c.subject,
        "body": c.body,
        "priority": c.priority.value,
        "starts_at": None if c.activity is None else c.activity.starts_at,
        "ends_at": None if c.activity is None else c.activity.ends_at,
        "area": c.area,
        "area_key": None if c.area is None else area_key(c.area),
        "bbox": None if c.bbox is None else json.dumps(c.bbox.as_list()),
        "ack_required": c.ack_required,
        "refers_to": c.refers_to,
        "status": notice.status.value,
        "sent_at": notice.sent_at,
        "ack_due_at": notice.ack_due_at,
        "client_time": notice.client_time,
        "received_at": notice.received_at,
        "received_by": notice.received_by,
        "decision": None if notice.decision is None else notice.decision.value,
        "decided_at": notice.decided_at,
        "decided_by": notice.decided_by,
        "reason": notice.reason,
        "cancelled_at": notice.cancelled_at,
        "cancelled_by": notice.cancelled_by,
        "cancel_reason": notice.cancel_reason,
        "overdue_at": notice.overdue_at,
        "reminded": notice.reminded,
        "escalated_at": notice.escalated_at,
        "signature": notice.signature,
        "attachments": _attachments_to_json(c.attachments),
    }


def _attachments_to_json(attachments: tuple[Attachment, ...]) -> str | None:
    """A notice's files as ``notices.attachments`` holds them: null for none, as before files."""
    if not attachments:
        return None
    return json.dumps([attachment.wire() for attachment in attachments])


def _attachments_of_json(text: str | None) -> tuple[Attachment, ...]:
    if text is None:
        return ()
    return tuple(Attachment(**attachment) for attachment in json.loads(text))


class StoredEvent(Protocol):
    """A row of the ``events`` table, as an ORM ``EventRow`` or a Core row of its columns."""

    @property
    def channel_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor_party(self) -> str | None: ...
    @property
    def actor_operator(self) -> str | None: ...
    @property
    def data(self) -> str: ...


_EVENT_TYPES = {member.value: member for member in EventType}
"""Event types by their stored name: a lookup, where ``EventType()`` costs 1.5 us an event."""


def wire_event(row: StoredEvent) -> schemas.Event:
    """The stored log entry as the API serves it."""
    actor = None
    if row.actor_party is not None and row.actor_operator is not None:
        actor = schemas.Actor(party=row.actor_party, operator=row.actor_operator)
    return schemas.Event(
        channel=row.channel_id,
        seq=row.seq,
        type=_EVENT_TYPES[row.type],
        at=row.at,
        actor=actor,
        data=json.loads(row.data),
    )


# Every request runs these two, so they are built once with bound parameters: building a
# statement anew costs about as much as SQLite takes to answer it. Columns, not ORM
# objects, since the rows are only read.
_IDENTITY = (
    select(
        OperatorRow.id,
        OperatorRow.role,
        OperatorRow.name,
        PartyRow.id,
        PartyRow.name,
        TokenRow.id,
        OperatorRow.email,
    )
    .join(TokenRow, TokenRow.operator_id == OperatorRow.id)
    .join(PartyRow, PartyRow.id == OperatorRow.party_id)
    .where(TokenRow.token_hash == bindparam("token_hash"), TokenRow.revoked_at.is_(None))
)
# The log's read path (REST pages, socket catch-up, exports) reads thousands of events at a
# time: the table's columns, so that rows stay tuples and no ORM object is built for them.
_EVENTS = EventRow.__table__.c
_LOG = (
    select(
        _EVENTS.channel_id,
        _EVENTS.seq,
        _EVENTS.type,
        _EVENTS.at,
        _EVENTS.actor_party,
        _EVENTS.actor_operator,
        _EVENTS.data,
    )
    .where(_EVENTS.channel_id == bindparam("channel"), _EVENTS.seq > bindparam("after"))
    .order_by(_EVENTS.seq)
    .limit(bindparam("limit"))
)
_VISIBLE_HEAD = select(ChannelRow.head_seq).where(
    ChannelRow.id == bindparam("channel"),
    or_(ChannelRow.party_a == bindparam("party"), ChannelRow.party_b == bindparam("party")),
)


class Repository:
    """Reads and writes for one session; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the lock that orders a channel's log -----------------------------------------

    async def lock_channel(
        self, channel_id: str, *, party: str | None
    ) -> tuple[Channel, int] | None:
        """Take the channel's write lock and return it with its log head.

        For the few writes outside the single writer (growing a tree at start-up,
        ``log.build_missing``): on PostgreSQL this ``UPDATE`` locks the channel's row until
        commit, as the writer's ``FOR UPDATE`` does; on SQLite it takes the database write
        lock. Either way nothing else appends to the channel meanwhile.

        Args:
            channel_id: the channel.
            party: only find it if this party is one of its two; ``None`` for the server.

        Returns:
            The channel and its head sequence number, or ``None`` if not found or not
            visible to ``party``.
        """
        stmt = update(ChannelRow).where(ChannelRow.id == channel_id)
        if party is not None:
            stmt = stmt.where(or_(ChannelRow.party_a == party, ChannelRow.party_b == party))
        stmt = stmt.values(head_seq=ChannelRow.head_seq).returning(ChannelRow)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        return None if row is None else (channel_of_row(row), row.head_seq)

    # -- reads ---------------------------------------------------------------------------

    async def notice(self, notice_id: uuid.UUID) -> tuple[Notice, int] | None:
        """The notice with this id, in any channel, with its ``notice.sent`` sequence number."""
        row = await self.session.get(NoticeRow, notice_id)
        return None if row is None else (notice_of_row(row), row.sent_seq)

    async def identity_for_token(self, token_hash: str) -> Identity | None:
        """The operator whose unrevoked token has this hash."""
        found = (await self.session.execute(_IDENTITY, {"token_hash": token_hash})).one_or_none()
        if found is None:
            return None
        operator, role, operator_name, party, party_name, token_id, email = found
        return Identity(
            actor=Actor(party=party, operator=operator, role=Role(role)),
            operator_name=operator_name,
            party_name=party_name,
            token_id=token_id,
            email=email,
        )

    async def channels_of(self, party: str, channel_id: str | None = None) -> list[schemas.Channel]:
        """The channels ``party`` is one end of (or just ``channel_id``, if it is)."""
        stmt = select(ChannelRow).where(
            or_(ChannelRow.party_a == party, ChannelRow.party_b == party)
        )
        if channel_id is not None:
            stmt = stmt.where(ChannelRow.id == channel_id)
        rows = (await self.session.scalars(stmt.order_by(ChannelRow.id))).all()
        party_ids = {p for row in rows for p in (row.party_a, row.party_b)}
        found = await self.session.execute(
            select(PartyRow.id, PartyRow.name).where(PartyRow.id.in_(party_ids))
        )
        names = {party_id: name for party_id, name in found}
        return [
            schemas.Channel(
                id=row.id,
                parties=[schemas.NamedRef(id=p, name=names[p]) for p in (row.party_a, row.party_b)],
                policy=schemas.PolicyOut.model_validate_json(row.policy),
                head=row.head_seq,
            )
            for row in rows
        ]

    async def channel_ids(self) -> list[str]:
        """Every channel's id (for the server's own housekeeping)."""
        return list(await self.session.scalars(select(ChannelRow.id).order_by(ChannelRow.id)))

    async def visible_head(self, party: str, channel_id: str) -> int | None:
        """The log head of a channel if ``party`` is one of its two, else ``None``."""
        params = {"channel": channel_id, "party": party}
        head: int | None = (await self.session.execute(_VISIBLE_HEAD, params)).scalar_one_or_none()
        return head

    async def notices(
        self, channel_id: str, filters: NoticeFilter, *, before_seq: int | None, limit: int
    ) -> list[tuple[Notice, int]]:
        """Notices of a channel, newest first, each with its ``notice.sent`` sequence number."""
        stmt = select(NoticeRow).where(NoticeRow.channel_id == channel_id)
        if before_seq is not None:
            stmt = stmt.where(NoticeRow.sent_seq < before_seq)
        if filters.status is not None:
            stmt = stmt.where(NoticeRow.status == filters.status.value)
        if filters.priority is not None:
            stmt = stmt.where(NoticeRow.priority == filters.priority.value)
        if filters.sent_by is not None:
            stmt = stmt.where(NoticeRow.sender_party == filters.sent_by)
        if filters.awaiting_decision:
            stmt = stmt.where(
                NoticeRow.ack_required.is_(True),
                NoticeRow.status.in_([Status.SENT, Status.DELIVERED, Status.OVERDUE]),
            )
        rows = (
            await self.session.scalars(stmt.order_by(NoticeRow.sent_seq.desc()).limit(limit))
        ).all()
        return [(notice_of_row(row), row.sent_seq) for row in rows]

    async def events_of_notice(self, channel_id: str, notice_id: uuid.UUID) -> list[schemas.Event]:
        """A notice's own events, in log order."""
        stmt = (
            select(EventRow)
            .where(EventRow.channel_id == channel_id, EventRow.notice_id == notice_id)
            .order_by(EventRow.seq)
        )
        return [wire_event(row) for row in (await self.session.scalars(stmt)).all()]

    async def log(self, channel_id: str, *, after: int, limit: int) -> list[schemas.Event]:
        """Events of a channel with ``seq > after``, in order."""
        params = {"channel": channel_id, "after": after, "limit": limit}
        return [wire_event(row) for row in await self.session.execute(_LOG, params)]

    async def next_due_at(self) -> datetime | None:
        """When the earliest due action is due, or ``None`` if none is waiting."""
        found: datetime | None = await self.session.scalar(select(func.min(DueActionRow.due_at)))
        return found  # MIN keeps the column's type: UTC, time-zone aware

    async def due_by(self, now: datetime, *, limit: int) -> list[WaitingDue]:
        """The due actions due at ``now`` or before, in the order the clock claims them."""
        dues = DueActionRow.__table__.c
        stmt = (
            select(dues.id, dues.kind, dues.channel_id, dues.subject, dues.due_at)
            .where(dues.due_at <= now)
            .order_by(dues.due_at, dues.id)
            .limit(limit)
        )
        return [WaitingDue(*row) for row in await self.session.execute(stmt)]
