"""One batch of commands, as the single writer sees the database: read at once, written at once.

The writer (``server/store/writer.py``) hands each batch of commands a :class:`Batch` on its
own connection, inside one transaction. The batch first locks every channel its commands
address (in id order, so that two processes never wait for each other in a circle) and
reads, in one query, every notice they name. The commands then run one after another in
plain Python against what was read, each seeing the ones before it; every row they
produce is kept until :meth:`Batch.write` sends each table's rows in one statement. A
refused command has written nothing, so nothing of it needs undoing.

What the writer remembers between batches (:class:`Memory`: each channel's head, the
right edge of its Merkle tree, its operators' keys, recent notices) is trusted only for a
channel whose head, read under the lock, is the head remembered: heads only grow, and
every change to a channel's notices or keys appends to its log, so an unchanged head means
nobody else has written to it. Any other head (another process wrote) and the channel is
forgotten and read afresh.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Select, bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from client.protocol import schemas
from client.protocol.log import CompactRange, event_hash
from client.protocol.vocabulary import EventType
from server.domain.errors import NotFound
from server.domain.events import LogEvent
from server.domain.model import Channel, Notice
from server.store.models import ChannelRow, EventRow, LogNodeRow, NoticeRow
from server.store.prepared import Prepared
from server.store.repository import notice_columns, notice_of_row, policy_from_json, wire_event
from server.store.tree import grow, node_rows, read_edge

__all__ = ["Batch", "Memory", "Statements", "StoredNotice"]


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """A notice as committed, with the sequence number of its ``notice.sent`` event."""

    notice: Notice
    seq: int


@dataclass(slots=True)
class _ChannelMemory:
    channel: Channel
    policy: str
    """The policy as stored, to tell whether it changed without parsing it."""
    head: int
    edge: CompactRange | None = None
    """The tree's right edge at ``head``; ``None`` until an append needs it."""
    keys: dict[str, schemas.Event | None] = field(default_factory=dict)
    """Operator to its ``operator.key_registered`` event in force (``None``: it has none)."""


class Memory:
    """What the writer knows between batches; only the writer's thread touches it.

    Args:
        notices: how many recently written or read notices to keep.
    """

    def __init__(self, *, notices: int = 10_000) -> None:
        self.channels: dict[str, _ChannelMemory] = {}
        self.notices: OrderedDict[uuid.UUID, StoredNotice] = OrderedDict()
        self._keep = notices

    def forget(self, channel_id: str) -> None:
        """Drop all that is known of a channel: another process has written to it."""
        self.channels.pop(channel_id, None)
        for notice_id in [i for i, s in self.notices.items() if s.notice.channel == channel_id]:
            del self.notices[notice_id]

    def forget_all(self) -> None:
        """Drop everything: a batch failed, so what it left here may not be in the database."""
        self.channels.clear()
        self.notices.clear()

    def keep(self, stored: StoredNotice) -> None:
        """Remember a notice as committed."""
        self.notices[stored.notice.id] = stored
        self.notices.move_to_end(stored.notice.id)
        if len(self.notices) > self._keep:
            self.notices.popitem(last=False)


# The write path's statements, built once. FOR UPDATE takes PostgreSQL's row locks
# (SQLite, whose batch began with BEGIN IMMEDIATE, holds the whole database's write lock
# already, and SQLAlchemy leaves the clause out there). The channels and notices are
# named one bound parameter each, not with an "expanding" IN, which SQLAlchemy renders
# anew on every run; a statement is built per count instead, and kept.
@functools.lru_cache(maxsize=64)
def _lock_statement(count: int) -> Select[str, str, str, str, int]:
    return (
        select(
            ChannelRow.id,
            ChannelRow.party_a,
            ChannelRow.party_b,
            ChannelRow.policy,
            ChannelRow.head_seq,
        )
        .where(ChannelRow.id.in_([bindparam(f"c{n}") for n in range(count)]))
        .order_by(ChannelRow.id)
        .with_for_update()
    )


@functools.lru_cache(maxsize=64)
def _notices_statement(count: int) -> Select[Any]:
    return select(NoticeRow.__table__).where(
        NoticeRow.id.in_([bindparam(f"n{n}", type_=NoticeRow.id.type) for n in range(count)])
    )


_KEY = (
    select(EventRow.__table__)
    .where(
        EventRow.channel_id == bindparam("channel"),
        EventRow.type == EventType.OPERATOR_KEY_REGISTERED.value,
        EventRow.actor_operator == bindparam("operator"),
    )
    .order_by(EventRow.seq.desc())
    .limit(1)
)
_EVENT_COLUMNS = (
    "channel_id",
    "seq",
    "type",
    "at",
    "actor_party",
    "actor_operator",
    "notice_id",
    "data",
)
_NODE_COLUMNS = ("channel_id", "level", "idx", "hash")
_NOTICE_FIELDS = tuple(
    c.name for c in NoticeRow.__table__.columns if c.name not in {"id", "sent_seq"}
)


class Statements:
    """The writer's statements compiled for one database (see ``server/store/prepared.py``).

    Args:
        dialect: the writer's engine's dialect.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.insert_events = Prepared(insert(EventRow), dialect, keys=_EVENT_COLUMNS)
        self.insert_nodes = Prepared(insert(LogNodeRow), dialect, keys=_NODE_COLUMNS)
        self.insert_notices = Prepared(
            insert(NoticeRow), dialect, keys=("id", "sent_seq", *_NOTICE_FIELDS)
        )
        self.update_notices = Prepared(
            update(NoticeRow)
            .where(NoticeRow.id == bindparam("notice_id"))
            .values({name: bindparam(name) for name in _NOTICE_FIELDS}),
            dialect,
        )
        self.move_heads = Prepared(
            update(ChannelRow)
            .where(ChannelRow.id == bindparam("channel"))
            .values(head_seq=bindparam("head")),
            dialect,
        )
        self._locks: dict[int, Prepared] = {}

    def lock(self, count: int) -> Prepared:
        """The statement that locks ``count`` channels (``c0``, ``c1``, …) and reads them."""
        if count not in self._locks:
            self._locks[count] = Prepared(_lock_statement(count), self.dialect)
        return self._locks[count]


class Batch:
    """One transaction's worth of commands on the writer's connection.

    Args:
        connection: the writer's connection, in a transaction already begun.
        memory: what the writer remembers; the batch checks it, uses it and adds to it.
        statements: the writer's statements, compiled for this database.
        channel_ids: every channel the batch's commands address (locked now).
        notice_ids: every notice they name (read now, unless remembered).
    """

    def __init__(
        self,
        connection: Connection,
        memory: Memory,
        statements: Statements,
        *,
        channel_ids: Collection[str],
        notice_ids: Collection[uuid.UUID],
    ) -> None:
        self.connection = connection
        self.memory = memory
        self.statements = statements
        self._locked: dict[str, _ChannelMemory] = {}
        self._read: dict[uuid.UUID, StoredNotice | None] = {}
        self._written: dict[uuid.UUID, StoredNotice] = {}
        self._new: set[uuid.UUID] = set()
        self._events: list[dict[str, Any]] = []
        self._nodes: list[dict[str, object]] = []
        self._moved: set[str] = set()
        self._lock(channel_ids)
        self._read_notices(notice_ids)

    # -- reads (from memory where it is known to be current) ------------------------------

    def _lock(self, channel_ids: Collection[str]) -> None:
        ids = sorted(set(channel_ids))
        lock = self.statements.lock(len(ids))
        found = lock.run(self.connection, {f"c{n}": i for n, i in enumerate(ids)})
        for channel_id, party_a, party_b, policy, head in found:
            known = self.memory.channels.get(channel_id)
            if known is None or known.head != head or known.policy != policy:
                self.memory.forget(channel_id)
                channel = Channel(channel_id, (party_a, party_b), policy_from_json(policy))
                known = _ChannelMemory(channel, policy, head)
                self.memory.channels[channel_id] = known
            self._locked[channel_id] = known

    def _remembered(self, notice_id: uuid.UUID) -> StoredNotice | None:
        found = self.memory.notices.get(notice_id)
        # Current only if its channel was locked and found unchanged by this batch.
        return found if found is not None and found.notice.channel in self._locked else None

    def _read_notices(self, notice_ids: Collection[uuid.UUID]) -> None:
        wanted = {i for i in notice_ids if self._remembered(i) is None}
        if not wanted:
            return
        self._read.update(dict.fromkeys(wanted))
        params = {f"n{n}": notice_id for n, notice_id in enumerate(wanted)}
        for row in self.connection.execute(_notices_statement(len(wanted)), params):
            self._read[row.id] = StoredNotice(notice_of_row(cast(Any, row)), row.sent_seq)

    def channel(self, channel_id: str, *, party: str | None) -> Channel:
        """The channel, locked for this batch.

        Raises:
            NotFound: no such channel, or ``party`` is not one of its two.
        """
        known = self._locked.get(channel_id)
        if known is None or (party is not None and party not in known.channel.parties):
            raise NotFound(f"no channel {channel_id}")
        return known.channel

    def notice(self, notice_id: uuid.UUID) -> StoredNotice | None:
        """The notice with this id, in any channel, as this batch has left it so far."""
        if notice_id in self._written:
            return self._written[notice_id]
        if notice_id not in self._read:
            found = self._remembered(notice_id)
            if found is not None:
                return found
            self._read_notices([notice_id])  # not named up front: one more query
        return self._read[notice_id]

    def key_in_force(self, channel_id: str, operator: str) -> schemas.Event | None:
        """The operator's last ``operator.key_registered`` event on a locked channel, if any.

        The log is the only record of keys, so that the server checks signatures against
        exactly what an auditor reads.
        """
        known = self._locked[channel_id]
        if operator not in known.keys:
            params = {"channel": channel_id, "operator": operator}
            row = self.connection.execute(_KEY, params).one_or_none()
            known.keys[operator] = None if row is None else wire_event(cast(Any, row))
        return known.keys[operator]

    # -- writes (kept until write()) -----------------------------------------------------

    def append(
        self, channel_id: str, events: Sequence[LogEvent]
    ) -> tuple[list[schemas.Event], bytes]:
        """Add events to a locked channel's log and their leaves to its tree.

        Returns:
            The events as the API serves them, and the tree's root after them.
        """
        known = self._locked[channel_id]
        if known.edge is None:
            known.edge = read_edge(self.connection, channel_id, known.head)
        appended = []
        for seq, event in enumerate(events, start=known.head + 1):
            data = json.dumps(event.data(), sort_keys=True, ensure_ascii=False)
            row = {
                "channel_id": channel_id,
                "seq": seq,
                "type": event.type.value,
                "at": event.at,
                "actor_party": event.party,
                "actor_operator": event.operator,
                "notice_id": event.notice_id,
                "data": data,
            }
            self._events.append(row)
            wire = _wire(channel_id, seq, event, data)
            appended.append(wire)
            if event.type is EventType.OPERATOR_KEY_REGISTERED and event.operator is not None:
                known.keys[event.operator] = wire
        leaves = [event_hash(e.model_dump(mode="json")) for e in appended]
        self._nodes.extend(node_rows(channel_id, grow(known.edge, leaves)))
        known.head += len(events)
        self._moved.add(channel_id)
        return appended, known.edge.root()

    def save_notice(self, notice: Notice, *, seq: int) -> None:
        """Store a notice's new state (a new notice if this id has none yet)."""
        if self.notice(notice.id) is None:
            self._new.add(notice.id)
        self._written[notice.id] = StoredNotice(notice, seq)

    def write(self) -> None:
        """Send every row the batch's commands produced: one statement per table."""
        statements, connection = self.statements, self.connection
        if self._events:
            statements.insert_events.run_many(connection, self._events)
        if self._nodes:
            statements.insert_nodes.run_many(connection, self._nodes)
        new = [s for i, s in self._written.items() if i in self._new]
        changed = [s for i, s in self._written.items() if i not in self._new]
        if new:
            rows = [{"id": s.notice.id, "sent_seq": s.seq, **notice_columns(s.notice)} for s in new]
            statements.insert_notices.run_many(connection, rows)
        if changed:
            rows = [{"notice_id": s.notice.id, **notice_columns(s.notice)} for s in changed]
            statements.update_notices.run_many(connection, rows)
        heads = [{"channel": c, "head": self._locked[c].head} for c in sorted(self._moved)]
        if heads:
            statements.move_heads.run_many(connection, heads)

    def remember(self) -> None:
        """Keep what the batch read and wrote: call only once it is committed."""
        for stored in self._read.values():
            if stored is not None and stored.notice.channel in self._locked:
                self.memory.keep(stored)
        for stored in self._written.values():
            self.memory.keep(stored)


def _wire(channel_id: str, seq: int, event: LogEvent, data: str) -> schemas.Event:
    """An event about to be inserted, as the API serves it once stored (``wire_event``)."""
    actor = None
    if event.party is not None and event.operator is not None:
        actor = schemas.Actor(party=event.party, operator=event.operator)
    return schemas.Event(
        channel=channel_id,
        seq=seq,
        type=event.type,
        at=event.at,
        actor=actor,
        data=json.loads(data),
    )
