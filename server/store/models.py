"""The tables, as SQLAlchemy 2.0 declarative models.

The ``events`` table is the channel log: its primary key ``(channel_id, seq)`` makes a
duplicate sequence number impossible, and ``channels.head_seq`` (bumped in the same
transaction) makes a gap impossible. ``log_nodes`` holds the channel's Merkle tree, grown
in the same transaction as the events. ``notices`` holds each notice's current state, which
is always the fold of its events; it exists so that the inbox is one indexed query.
``counters`` holds the access counter, which triggers move whenever ``tokens``,
``operators`` or ``parties`` change (migration 0005).

The clock's tables (migration 0006): ``due_actions`` is the queue of what the server will
do on its own and when (a row is deleted in the transaction that fires it); ``checks`` and
``conflicts`` hold the state of each liveness check and each pair of clashing plans, folded
from their events as ``notices`` is from a notice's.

The outbox's tables (migration 0007): ``deliveries`` holds what must leave the server (a
webhook call, a mail), each row written in the same transaction as the event that causes
it and sent afterwards by a delivery worker; ``delivery_attempts`` records every try.
``webhooks`` holds each party's subscriptions, with their secrets encrypted;
``attachments`` says which files (stored outside the database, by their SHA-256) were
uploaded to which channel.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AttachmentRow",
    "Base",
    "ChannelRow",
    "CheckRow",
    "ConflictRow",
    "CounterRow",
    "DeliveryAttemptRow",
    "DeliveryRow",
    "DueActionRow",
    "EventRow",
    "LogNodeRow",
    "NoticeRow",
    "OperatorRow",
    "PartyRow",
    "TokenRow",
    "UTCDateTime",
    "WebhookRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always time-zone aware UTC in Python.

    PostgreSQL keeps the zone (``timestamptz``); SQLite has no time type and hands back
    naive values, so they are marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Explicit constraint names, so that migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every table's base: constraint names and the UTC time type."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), str: String(200)}


class PartyRow(Base):
    """An organisation at one end of a channel."""

    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str]
    created_at: Mapped[datetime]


class OperatorRow(Base):
    """A person or program acting for a party."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    name: Mapped[str]
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(Text)
    """Where mail for this operator goes (escalations, missed checks, unseen notices)."""


class TokenRow(Base):
    """A bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str]
    created_at: Mapped[datetime]
    # Indexed for each server's revocation watch, which reads the tokens revoked lately.
    revoked_at: Mapped[datetime | None]


class CounterRow(Base):
    """A named number. The ``access`` row moves whenever who may log in changes.

    Triggers (migration 0005) move it in the transaction of every change to ``tokens``,
    ``operators`` and ``parties``; each process trusts the identities it remembers only
    while it reads the value it read them at (``server/store/identities.py``).
    """

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ChannelRow(Base):
    """Two parties, a policy, and the head of their log."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_a: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    party_b: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    policy: Mapped[str] = mapped_column(Text)
    """The policy in force, as JSON (``server/domain/policy.py``), keys sorted."""
    policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """The proposal that set the policy in force; null for the one the channel began with."""
    proposal: Mapped[str | None] = mapped_column(Text)
    """The proposal waiting for an answer, as JSON; null when none (it may have lapsed)."""
    head_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    webhooks: Mapped[str] = mapped_column(Text, default="[]", server_default=text("'[]'"))
    """The channel's enabled webhook subscriptions as JSON, ``[{"id", "party", "types"}]``
    sorted by id: changed in the same transaction as the ``webhooks`` rows, under the
    channel's lock, so that the writer knows where an event goes without a query."""


class NoticeRow(Base):
    """A notice's current state: the fold of its events."""

    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_channel_seq", "channel_id", "sent_seq"),
        Index("ix_notices_status_due", "status", "ack_due_at"),
        # The plans still active in an area: a send with a window and an area reads them.
        Index("ix_notices_channel_area_ends", "channel_id", "area_key", "ends_at"),
        # The updates of a plan, which replace it; partial, as most notices refer to none.
        Index(
            "ix_notices_refers_to",
            "refers_to",
            sqlite_where=text("refers_to IS NOT NULL"),
            postgresql_where=text("refers_to IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    sent_seq: Mapped[int]
    sender_party: Mapped[str] = mapped_column(String(64))
    sender_operator: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str]
    body: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    area: Mapped[str | None]
    area_key: Mapped[str | None] = mapped_column(Text)
    """The area as compared (``server.domain.conflicts.area_key``); null without an area.
    Unbounded: case-folding may lengthen an area (``ß`` is ``ss``) past its 200 characters."""
    bbox: Mapped[str | None] = mapped_column(Text)
    """``[west, south, east, north]`` as JSON, or null."""
    ack_required: Mapped[bool]
    refers_to: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]
    ack_due_at: Mapped[datetime | None]
    client_time: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    received_by: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    overdue_at: Mapped[datetime | None]
    reminded: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """How many reminders the chase has logged: a second copy of one logs nothing."""
    escalated_at: Mapped[datetime | None]
    """When the chase escalated it, if it did: a second copy of the escalation logs nothing."""
    signature: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[str | None] = mapped_column(Text)
    """The files it carries, ``[{"sha256", "size", "media_type", "name"}]`` as JSON; null
    for none."""


class EventRow(Base):
    """One entry of a channel's log."""

    __tablename__ = "events"
    __table_args__ = (
        # Finds an operator's signing key in force without reading the whole log; partial,
        # so that the other events (nearly all of them) cost nothing more to write.
        Index(
            "ix_events_keys",
            "channel_id",
            "actor_operator",
            "seq",
            sqlite_where=text("type = 'operator.key_registered'"),
            postgresql_where=text("type = 'operator.key_registered'"),
        ),
        # Finds when the policy in force took effect (its ``channel.policy_changed``).
        Index(
            "ix_events_policy",
            "channel_id",
            "seq",
            sqlite_where=text("type = 'channel.policy_changed'"),
            postgresql_where=text("type = 'channel.policy_changed'"),
        ),
        # Finds the proposals a channel has seen, so that a proposal id is used once.
        Index(
            "ix_events_proposals",
            "channel_id",
            "seq",
            sqlite_where=text("type = 'channel.policy_proposed'"),
            postgresql_where=text("type = 'channel.policy_proposed'"),
        ),
    )

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    actor_party: Mapped[str | None] = mapped_column(String(64))
    actor_operator: Mapped[str | None] = mapped_column(String(64))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    data: Mapped[str] = mapped_column(Text)


class LogNodeRow(Base):
    """A complete, perfect subtree of a channel's Merkle tree (level 0: a leaf's hash).

    The subtree at ``(level, idx)`` covers the leaves ``[idx * 2**level, (idx + 1) *
    2**level)``. Once complete it never changes, so each is written once, in the same
    transaction as the event that completes it; any root or proof is folded from at most
    a few dozen of them (see ``client/protocol/merkle.py``).
    """

    __tablename__ = "log_nodes"

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class DueActionRow(Base):
    """Something the server will do on its own at ``due_at`` (``server/domain/clock.py``).

    Claimed by the writer when its time has come and deleted in the transaction that fires
    it: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so that two processes never fire one.
    """

    __tablename__ = "due_actions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[uuid.UUID] = mapped_column(Uuid)
    n: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(index=True)


class CheckRow(Base):
    """A liveness check: asked of a party, then answered or missed (the fold of its events)."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_channel_requested", "channel_id", "requested_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    party: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    """When the schedule wanted it asked."""
    requested_at: Mapped[datetime]
    requested_seq: Mapped[int]
    """The sequence number of its ``check.requested`` event."""
    answer_by: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64))
    missed_at: Mapped[datetime | None]


class ConflictRow(Base):
    """Two plans in one area at one time: detected, and perhaps resolved since."""

    __tablename__ = "conflicts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    notice_a: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    """The earlier notice."""
    notice_b: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    """The notice whose sending revealed the conflict."""
    area: Mapped[str] = mapped_column(Text)
    """The normalised area they share (``notices.area_key``: unbounded, as it is)."""
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    """The time they share."""
    detected_seq: Mapped[int]
    detected_at: Mapped[datetime]
    resolved_seq: Mapped[int | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """The notice cancelled, or the update that replaced one of the two."""
    reason: Mapped[str | None] = mapped_column(String(16))
    """Why it was resolved: ``cancelled`` or ``updated``."""


class WebhookRow(Base):
    """A party's subscription to a channel's events, delivered by Standard Webhooks."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"), index=True)
    party: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[str] = mapped_column(Text)
    """The event types it wants, as a JSON list; empty: every type."""
    secret: Mapped[str] = mapped_column(Text)
    """The signing secret, encrypted with the server's secrets key (never in clear)."""
    previous_secret: Mapped[str | None] = mapped_column(Text)
    """The secret before the last rotation, encrypted; it signs too until ``previous_until``."""
    previous_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Deliveries given up in a row (each after all its tries); a success resets it, too
    many disable the subscription."""
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class DeliveryRow(Base):
    """Something that must leave the server: the transactional outbox.

    Written in the transaction of the event that causes it (so nothing uncommitted is
    sent, nothing committed is lost); a delivery worker claims it with a lease, sends it
    outside any transaction and records the attempt. Its id is stable (the
    ``webhook-id``, the mail's ``Message-ID``): a receiver drops a repeat by it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        # What is waiting, by when it is due: the worker's claim. Partial: finished rows,
        # nearly all of them in time, cost the index nothing.
        Index(
            "ix_deliveries_waiting",
            "next_attempt_at",
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        Index("ix_deliveries_channel_created", "channel_id", "created_at"),
        Index("ix_deliveries_target_created", "target", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``webhook`` or ``mail``."""
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    seq: Mapped[int]
    """The event that caused it."""
    event_type: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    """A webhook's id, ``operator:<id>`` or ``party:<id>``."""
    status: Mapped[str] = mapped_column(String(16))
    """``waiting``, ``delivered``, ``failed`` (given up) or ``skipped`` (nothing to send)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    """While a worker is sending it; an expired lease (the worker died) frees it again."""
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttemptRow(Base):
    """One try at a delivery: when, how it went, how long it took."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]


class AttachmentRow(Base):
    """A file uploaded to a channel by a party; its bytes are stored outside the database,
    by hash (one file however many parties and channels hold it)."""

    __tablename__ = "attachments"

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Lower-case hex: the file's name in the attachment store, and its proof."""
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The party that uploaded it (only its own notices may list it): each party of a
    channel holds its own copy of the same bytes, so that either may send them."""
    name: Mapped[str] = mapped_column(String(255))
    """The file's name as uploaded (a notice that lists it names it again)."""
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
