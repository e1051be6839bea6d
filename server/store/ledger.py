"""One batch of commands, as the single writer sees the database: read at once, written at once.

The writer (``server/store/writer.py``) opens a :class:`Batch` for each batch of commands,
inside one transaction. The batch first locks every channel its commands address (in id
order, so that two processes never wait for each other in a circle) and reads, a query
each, whatever they will need that the writer does not already hold: the notices they
name, the keys of operators who signed, the right edge of a channel's Merkle tree. The
commands then run one after another in plain Python against what was read, each seeing
the ones before it, with no query in between; every row they produce is kept until
:meth:`Batch.write` sends each table's rows in one statement. A refused command has
written nothing, so nothing of it needs undoing.

What the writer remembers between batches (:class:`Memory`: each channel's head, the
right edge of its tree, its operators' keys, recent notices) is trusted only for a
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
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from client.protocol import schemas
from client.protocol.log import CompactRange, event_hash
from client.protocol.vocabulary import EventType
from server.domain.errors import NotFound
from server.domain.events import LogEvent
from server.domain.model import Channel, Notice
from server.store.links import Link
from server.store.models import ChannelRow, EventRow, LogNodeRow, NoticeRow
from server.store.prepared import Prepared
from server.store.repository import notice_columns, notice_of_row, policy_from_json, wire_event
from server.store.tree import edge_query, grow, node_rows

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
    """What the writer knows between batches; only the writer touches it.

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
# already, and SQLAlchemy leaves the clause out there). Channels and notices are named one
# bound parameter each, a statement per count, rather than with an "expanding" IN,
# which SQLAlchemy would render anew for every run.
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
        dialect: the dialect of the writer's connection.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.key = Prepared(_KEY, dialect, columns=list(EventRow.__table__.columns))
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

    @functools.cache  # noqa: B019 - one Statements per writer, for the writer's life
    def lock(self, count: int) -> Prepared:
        """Lock ``count`` channels (``c0``, ``c1``, …) and read them."""
        table = ChannelRow.__table__.columns
        names = ("id", "party_a", "party_b", "policy", "head_seq")
        return Prepared(_lock_statement(count), self.dialect, columns=[table[n] for n in names])

    @functools.cache  # noqa: B019
    def notices(self, count: int) -> Prepared:
        """Read ``count`` notices (``n0``, ``n1``, …) by id."""
        return Prepared(
            _notices_statement(count), self.dialect, columns=list(NoticeRow.__table__.columns)
        )

    @functools.cache  # noqa: B019
    def subtrees(self, count: int, sample: Select[int, int, bytes]) -> Prepared:
        """Read ``count`` perfect subtrees of a tree (``sample`` is the query for them)."""
        table = LogNodeRow.__table__.columns
        return Prepared(sample, self.dialect, columns=[table[n] for n in ("level", "idx", "hash")])


class Batch:
    """One transaction's worth of commands on the writer's connection.

    Open one with :meth:`open`; then the commands call its methods, which never wait.
    """

    def __init__(self, memory: Memory, statements: Statements) -> None:
        self.memory = memory
        self.statements = statements
        self._locked: dict[str, _ChannelMemory] = {}
        self._read: dict[uuid.UUID, StoredNotice | None] = {}
        self._written: dict[uuid.UUID, StoredNotice] = {}
        self._new: set[uuid.UUID] = set()
        self._events: list[dict[str, Any]] = []
        self._nodes: list[dict[str, object]] = []
        self._moved: set[str] = set()

    @classmethod
    async def open(
        cls,
        link: Link,
        memory: Memory,
        statements: Statements,
        *,
        channel_ids: Collection[str],
        notice_ids: Collection[uuid.UUID],
        keys: Collection[tuple[str, str]],
    ) -> Batch:
        """Lock the channels and read what the commands will need.

        Args:
            link: the writer's connection, in a transaction already begun.
            memory: what the writer remembers; the batch checks it, uses it and adds to it.
            statements: the writer's statements, compiled for this database.
            channel_ids: every channel the batch's commands address.
            notice_ids: every notice they name.
            keys: ``(channel, operator)`` of every operator whose key in force they need.
        """
        batch = cls(memory, statements)
        await batch._lock(link, channel_ids)
        await batch._read_notices(link, notice_ids)
        for channel_id, operator in keys:
            await batch._read_key(link, channel_id, operator)
        for channel_id, known in batch._locked.items():
            if known.edge is None:
                known.edge = await batch._read_edge(link, channel_id, known.head)
        return batch

    # -- reads (only what the writer does not hold already) -------------------------------

    async def _lock(self, link: Link, channel_ids: Collection[str]) -> None:
        ids = sorted(set(channel_ids))
        params = {f"c{n}": channel_id for n, channel_id in enumerate(ids)}
        for row in await link.fetch(self.statements.lock(len(ids)), params):
            channel_id, policy, head = row["id"], row["policy"], row["head_seq"]
            known = self.memory.channels.get(channel_id)
            if known is None or known.head != head or known.policy != policy:
                self.memory.forget(channel_id)
                parties = (row["party_a"], row["party_b"])
                known = _ChannelMemory(
                    Channel(channel_id, parties, policy_from_json(policy)), policy, head
                )
                self.memory.channels[channel_id] = known
            self._locked[channel_id] = known

    def _remembered(self, notice_id: uuid.UUID) -> StoredNotice | None:
        found = self.memory.notices.get(notice_id)
        # Current only if its channel was locked and found unchanged by this batch.
        return found if found is not None and found.notice.channel in self._locked else None

    async def _read_notices(self, link: Link, notice_ids: Collection[uuid.UUID]) -> None:
        wanted = [i for i in dict.fromkeys(notice_ids) if self._remembered(i) is None]
        if not wanted:
            return
        self._read.update(dict.fromkeys(wanted))
        params = {f"n{n}": notice_id for n, notice_id in enumerate(wanted)}
        for row in await link.fetch(self.statements.notices(len(wanted)), params):
            notice = notice_of_row(cast(Any, SimpleNamespace(**row)))
            self._read[notice.id] = StoredNotice(notice, row["sent_seq"])

    async def _read_key(self, link: Link, channel_id: str, operator: str) -> None:
        known = self._locked.get(channel_id)
        if known is None or operator in known.keys:
            return
        found = await link.fetch(self.statements.key, {"channel": channel_id, "operator": operator})
        known.keys[operator] = wire_event(cast(Any, SimpleNamespace(**found[0]))) if found else None

    async def _read_edge(self, link: Link, channel_id: str, size: int) -> CompactRange:
        if size == 0:
            return CompactRange()
        keys, query, params = edge_query(channel_id, size)
        rows = await link.fetch(self.statements.subtrees(len(keys), query), params)
        found = {(row["level"], row["idx"]): row["hash"] for row in rows}
        missing = set(keys) - found.keys()
        if missing:
            raise LookupError(f"channel {channel_id}'s tree lacks subtrees {sorted(missing)}")
        return CompactRange(size, [found[key] for key in keys])

    # -- what the commands call: all in memory --------------------------------------------

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
        """The notice with this id, in any channel, as this batch has left it so far.

        Raises:
            LookupError: the id was not among the batch's ``notice_ids``.
        """
        if notice_id in self._written:
            return self._written[notice_id]
        if notice_id in self._read:
            return self._read[notice_id]
        found = self._remembered(notice_id)
        if found is None:
            raise LookupError(f"notice {notice_id} was not named when the batch was opened")
        return found

    def key_in_force(self, channel_id: str, operator: str) -> schemas.Event | None:
        """The operator's last ``operator.key_registered`` event on a locked channel, if any.

        The log is the only record of keys, so that the server checks signatures against
        exactly what an auditor reads.

        Raises:
            LookupError: the key was not among the batch's ``keys``.
        """
        known = self._locked[channel_id].keys
        if operator not in known:
            raise LookupError(f"{operator}'s key was not named when the batch was opened")
        return known[operator]

    def append(
        self, channel_id: str, events: Sequence[LogEvent]
    ) -> tuple[list[schemas.Event], bytes]:
        """Add events to a locked channel's log and their leaves to its tree.

        Returns:
            The events as the API serves them, and the tree's root after them.
        """
        known = self._locked[channel_id]
        assert known.edge is not None, "the batch reads every locked channel's edge"
        appended = []
        for seq, event in enumerate(events, start=known.head + 1):
            data = json.dumps(event.data(), sort_keys=True, ensure_ascii=False)
            self._events.append(
                {
                    "channel_id": channel_id,
                    "seq": seq,
                    "type": event.type.value,
                    "at": event.at,
                    "actor_party": event.party,
                    "actor_operator": event.operator,
                    "notice_id": event.notice_id,
                    "data": data,
                }
            )
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

    # -- writes ---------------------------------------------------------------------------

    async def write(self, link: Link) -> None:
        """Send every row the batch's commands produced: one statement per table."""
        statements = self.statements
        if self._events:
            await link.run_many(statements.insert_events, self._events)
        if self._nodes:
            await link.run_many(statements.insert_nodes, self._nodes)
        new = [s for i, s in self._written.items() if i in self._new]
        changed = [s for i, s in self._written.items() if i not in self._new]
        if new:
            rows = [{"id": s.notice.id, "sent_seq": s.seq, **notice_columns(s.notice)} for s in new]
            await link.run_many(statements.insert_notices, rows)
        if changed:
            rows = [{"notice_id": s.notice.id, **notice_columns(s.notice)} for s in changed]
            await link.run_many(statements.update_notices, rows)
        heads = [{"channel": c, "head": self._locked[c].head} for c in sorted(self._moved)]
        if heads:
            await link.run_many(statements.move_heads, heads)

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
