"""One batch of commands, as the single writer sees the database: read at once, written at once.

The writer (``server/store/writer.py``) opens a :class:`Batch` for each batch of commands,
inside one transaction. The batch first claims the due actions whose time has come, if a
command asks (``server/store/clockwork.py``), then locks every channel its commands
address and those the claimed actions concern (in id order, so that two processes never
wait for each other in a circle), reads the clock, and reads, a query each, whatever they
will need that the writer does not already hold: the notices they name, the keys of
operators who signed, the right edge of a channel's Merkle tree, and where asked the
checks named (a claimed check tick names those it would ask, so that a second copy of it
asks nothing), the parties' admins, the active plans of an area and a plan's open
conflicts (``server/store/plans.py``). The commands then run one after another in plain
Python against what was read, each seeing the ones before it, with no query in between;
every row they produce is kept until :meth:`Batch.write` sends each table's rows in one
statement. A refused command has written nothing, so nothing of it needs undoing.

What the writer remembers between batches (:class:`~server.store.memory.Memory`: each
channel's head, policy, policy id and waiting proposal, right edge of its tree and
operators' keys, recent notices) is trusted only for a channel whose head, policy, policy
id and proposal as stored, read under the lock, all match the ones remembered: heads only
grow, and every change to a channel's notices, keys or policy appends to its log, so an
unchanged head means nobody else has written to it; the policy columns are compared too,
so that a policy changed behind the writer's back (by hand, in the database) is read
afresh. Any difference (another process wrote) and the channel is forgotten and read
afresh. Checks, conflicts and plans are not remembered: they are read when a command
needs them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from client.protocol import schemas
from client.protocol.log import CompactRange, event_hash
from client.protocol.times import to_millisecond
from client.protocol.vocabulary import EventType
from server.clock import Clock
from server.domain.clock import DueKind, check_id
from server.domain.conflicts import Plan
from server.domain.errors import NotFound
from server.domain.events import LogEvent
from server.domain.model import Channel, Notice, PlanConflict
from server.domain.outbox import MailSwitch, WebhookTarget, deliveries
from server.store.clockwork import NOTICE_KINDS, Claim, Clockwork
from server.store.links import Link
from server.store.memory import ChannelMemory, Memory, StoredNotice
from server.store.outbox import Claimed
from server.store.plans import Plans
from server.store.repository import (
    channel_of_row,
    notice_columns,
    notice_of_row,
    policy_to_json,
    proposal_to_json,
    wire_event,
)
from server.store.statements import Statements, head_payload
from server.store.tree import edge_query, grow, node_rows

__all__ = ["Batch", "HandOff", "Memory", "Statements", "StoredNotice"]


class Batch:
    """One transaction's worth of commands on the writer's connection.

    Open one with :meth:`open`; then the commands call its methods, which never wait.
    """

    def __init__(
        self,
        memory: Memory,
        statements: Statements,
        *,
        mail: MailSwitch | None = None,
        handoff: HandOff | None = None,
        origin: str = "",
    ) -> None:
        self.memory = memory
        self.statements = statements
        self.mail = mail
        """Whether this server mails (``server/domain/outbox.py``); ``None``: it does not."""
        self.handoff = handoff
        """Which deliveries this process's worker takes straight from the batch, if any."""
        self.origin = origin
        """The name of this process in the notifications the batch sends (PostgreSQL)."""
        self.handed: list[Claimed] = []
        """The deliveries written already leased to this process's worker: once committed,
        the writer hands them over in memory, and no claim need look for them."""
        self.now = datetime.min.replace(tzinfo=UTC)
        """The time every command of the batch reads: the clock, once the channels are locked."""
        self.clockwork = Clockwork(statements.clock)
        """Due actions claimed and to write, checks, admins (``server/store/clockwork.py``)."""
        self.plans = Plans(statements.plans)
        """Plans of an area and open conflicts (``server/store/plans.py``)."""
        self._locked: dict[str, ChannelMemory] = {}
        self._settled: set[str] = set()
        self._read: dict[uuid.UUID, StoredNotice | None] = {}
        self._written: dict[uuid.UUID, StoredNotice] = {}
        self._new: set[uuid.UUID] = set()
        self._events: list[dict[str, Any]] = []
        self._nodes: list[dict[str, object]] = []
        self._moved: set[str] = set()
        self._deliveries: list[dict[str, Any]] = []
        self._disabled: list[dict[str, Any]] = []
        self._tries: list[dict[str, Any]] = []
        self._recorded: list[dict[str, Any]] = []
        self._retargeted: set[str] = set()

    @property
    def deliveries(self) -> int:
        """How many deliveries (webhook calls, mails) the batch wrote to the outbox."""
        return len(self._deliveries)

    @classmethod
    async def open(
        cls,
        link: Link,
        memory: Memory,
        statements: Statements,
        *,
        clock: Clock,
        mail: MailSwitch | None = None,
        handoff: HandOff | None = None,
        origin: str = "",
        channel_ids: Collection[str],
        notice_ids: Collection[uuid.UUID],
        keys: Collection[tuple[str, str]],
        claims: Sequence[Claim] = (),
        check_ids: Collection[uuid.UUID] = (),
        areas: Collection[tuple[str, str]] = (),
        conflicts_of: Collection[uuid.UUID] = (),
    ) -> Batch:
        """Claim due actions, lock the channels and read what the commands will need.

        Args:
            link: the writer's connection, in a transaction already begun.
            memory: what the writer remembers; the batch checks it, uses it and adds to it.
            statements: the writer's statements, compiled for this database.
            clock: read once the channels are locked: the batch's :attr:`now`.
            mail: whether this server mails, and how (``None``: it does not).
            handoff: which deliveries go straight to this process's worker (``None``: none).
            channel_ids: every channel the batch's commands address.
            notice_ids: every notice they name.
            keys: ``(channel, operator)`` of every operator whose key in force they need.
            claims: the due actions to claim (before any lock, so as never to wait); their
                channels, notices, checks and escalation admins join what is read.
            check_ids: the checks they name.
            areas: ``(channel, area key)`` of every area whose active plans they compare.
            conflicts_of: the notices whose open conflicts they may resolve.
        """
        batch = cls(memory, statements, mail=mail, handoff=handoff, origin=origin)
        claimed = await batch.clockwork.claim(link, claims)
        await batch._lock(link, {*channel_ids, *(c.due.channel for c in claimed)})
        batch.now = to_millisecond(clock.now())  # under the locks: times rise with seqs
        notices = [c.due.subject for c in claimed if c.due.kind in NOTICE_KINDS]
        await batch._read_notices(link, [*notice_ids, *notices, *conflicts_of])
        for channel_id, operator in keys:
            await batch._read_key(link, channel_id, operator)
        checks = [c.due.subject for c in claimed if c.due.kind is DueKind.CHECK_MISSED]
        for tick in (c.due for c in claimed if c.due.kind is DueKind.REQUEST_CHECKS):
            # The checks the tick asks, if they exist: a second copy of a tick asks nothing.
            asked = batch._locked[tick.channel].channel.parties
            checks.extend(check_id(tick.subject, tick.due_at, party) for party in asked)
        await batch.clockwork.read_checks(link, [*check_ids, *checks])
        # Whom escalations go to: any claimed action may lead to one, at once if it is late.
        channels = {c.due.channel for c in claimed}
        parties = [p for c in channels for p in batch._locked[c].channel.parties]
        await batch.clockwork.read_admins(link, parties)
        await batch.plans.read_areas(link, areas, now=batch.now)
        found = {i: batch._found(i) for i in conflicts_of}
        await batch.plans.read_conflicts(link, found)
        for channel_id, known in batch._locked.items():
            if known.edge is None:
                known.edge = await batch._read_edge(link, channel_id, known.head)
        return batch

    # -- reads (only what the writer does not hold already) -------------------------------

    async def _lock(self, link: Link, channel_ids: Collection[str]) -> None:
        ids = sorted(set(channel_ids))
        if not ids:
            return
        params = {f"c{n}": channel_id for n, channel_id in enumerate(ids)}
        for row in await link.fetch(self.statements.lock(len(ids)), params):
            channel_id, head = row["id"], row["head_seq"]
            settings = (row["policy"], row["policy_id"], row["proposal"])
            known = self.memory.channels.get(channel_id)
            if known is None or known.head != head or known.settings != settings:
                self.memory.forget(channel_id)
                channel = channel_of_row(cast(Any, SimpleNamespace(**row)))
                known = ChannelMemory(channel, settings, head)
                self.memory.channels[channel_id] = known
            if known.webhooks_text != row["webhooks"]:
                # Subscriptions change without an event: read them afresh, keep the rest.
                known.webhooks_text = row["webhooks"]
                known.webhooks = _webhooks(row["webhooks"])
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

    def _found(self, notice_id: uuid.UUID) -> Notice | None:
        stored = self.notice(notice_id)
        return None if stored is None else stored.notice

    def plans_in(self, channel_id: str, key: str) -> list[Plan]:
        """The plans still active at :attr:`now` in an area, as this batch has left them.

        Raises:
            LookupError: the area was not among the batch's ``areas``.
        """
        written = [stored.notice for stored in self._written.values()]
        return self.plans.active(channel_id, key, now=self.now, written=written, new=self._new)

    def conflicts_of(self, notice_id: uuid.UUID) -> list[PlanConflict]:
        """The open conflicts of a notice (see :meth:`Plans.conflicts_of`)."""
        return self.plans.conflicts_of(notice_id)

    def settle(self, channel: Channel) -> None:
        """Store a locked channel's new policy, policy id or waiting proposal."""
        known = self._locked[channel.id]
        policy_id = channel.policy_id
        known.settings = (
            policy_to_json(channel.policy),
            policy_id,
            proposal_to_json(channel.proposal),
        )
        known.channel = channel
        self._settled.add(channel.id)

    def webhooks(self, channel_id: str) -> tuple[WebhookTarget, ...]:
        """A locked channel's enabled webhook subscriptions, as this batch has left them."""
        return self._locked[channel_id].webhooks

    def disable_webhook(self, channel_id: str, webhook_id: str, *, reason: str, error: str) -> bool:
        """Disable an enabled subscription of a locked channel, in this batch's transaction.

        From the next event on (this batch's included) nothing more is sent to it; its row
        says why, the deliveries still waiting for it are given up with ``error``, and the
        channel's list of subscriptions loses it, all committed with whatever event the
        command appends to say so.

        Returns:
            Whether it was enabled (``False``: disabled already, or gone; nothing changes).
        """
        known = self._locked[channel_id]
        kept = tuple(w for w in known.webhooks if w.id != webhook_id)
        if len(kept) == len(known.webhooks):
            return False
        known.webhooks = kept
        known.webhooks_text = _webhooks_text(kept)
        self._retargeted.add(channel_id)
        self._disabled.append({"webhook": uuid.UUID(webhook_id), "reason": reason, "error": error})
        return True

    def record_tries(
        self, tries: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]
    ) -> None:
        """Record the delivery worker's tries (``delivery_attempts`` rows) and what each
        leaves its delivery in (``server/store/outbox.py`` says which row keys), riding in
        this batch's commit with whatever else it holds."""
        self._tries.extend(tries)
        self._recorded.extend(outcomes)

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
        for wire_, event in zip(appended, events, strict=True):
            self.clockwork.record(channel_id, wire_.seq, event)
            self.plans.record(channel_id, wire_.seq, event)
        outgoing = deliveries(
            appended, channel=known.channel, webhooks=known.webhooks, mail=self.mail, now=self.now
        )
        for d in outgoing:
            row = {
                "id": d.id,
                "kind": d.kind.value,
                "channel_id": d.channel,
                "seq": d.seq,
                "event_type": d.event_type,
                "target": d.target,
                "status": "waiting",
                "attempts": 0,
                "next_attempt_at": d.due_at,
                "leased_until": None,
                "created_at": self.now,
            }
            handoff = self.handoff
            if handoff is not None and d.kind.value in handoff.kinds and d.due_at <= self.now:
                # Claimed as it is written: try 1, leased to this process's worker, which
                # gets it in memory after the commit. If this process dies first, the lease
                # runs out and any worker claims it from the table.
                row.update(attempts=1, leased_until=self.now + handoff.lease)
                self.handed.append(
                    Claimed(d.id, d.kind.value, d.channel, d.seq, d.event_type, d.target, 1)
                )
            self._deliveries.append(row)
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
        if self._deliveries:  # the outbox: in the events' own transaction
            await link.run_many(statements.insert_deliveries, self._deliveries)
        if self._tries:
            await link.run_many(statements.insert_attempts, self._tries)
        if self._recorded:
            await link.run_many(statements.record_deliveries, self._recorded)
        if self._disabled:  # after the inserts: what this batch owed them is given up too
            rows = [{"webhook": d["webhook"], "reason": d["reason"]} for d in self._disabled]
            await link.run_many(statements.disable_webhooks, rows)
            given_up = [
                {"target": str(d["webhook"]), "error": d["error"], "now": self.now, "lease": None}
                for d in self._disabled
            ]
            await link.run_many(statements.give_up_deliveries, given_up)
        if self._retargeted:
            rows = [
                {"channel": c, "webhooks": self._locked[c].webhooks_text}
                for c in sorted(self._retargeted)
            ]
            await link.run_many(statements.set_webhooks, rows)
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
            if statements.notify_heads is not None:  # PostgreSQL: heard once committed
                told = [
                    {"payload": head_payload(c, self._locked[c].head, self.origin)}
                    for c in self._moved
                ]
                await link.run_many(statements.notify_heads, told)
        if self._settled:
            rows = []
            for channel_id in sorted(self._settled):
                policy, policy_id, proposal = self._locked[channel_id].settings
                row = {"policy": policy, "policy_id": policy_id, "proposal": proposal}
                rows.append({"channel": channel_id, **row})
            await link.run_many(statements.settle_channels, rows)
        await self.clockwork.write(link)
        await self.plans.write(link)

    def remember(self) -> None:
        """Keep what the batch read and wrote: call only once it is committed."""
        for stored in self._read.values():
            if stored is not None and stored.notice.channel in self._locked:
                self.memory.keep(stored)
        for stored in self._written.values():
            self.memory.keep(stored)


def _webhooks(stored: str) -> tuple[WebhookTarget, ...]:
    """``channels.webhooks`` (``[{"id", "party", "types"}]``) as the outbox reads it."""
    return tuple(
        WebhookTarget(id=str(w["id"]), party=str(w["party"]), types=tuple(w.get("types") or ()))
        for w in json.loads(stored or "[]")
    )


@dataclass(frozen=True, slots=True)
class HandOff:
    """Deliveries a batch leases, as it writes them, to this process's delivery worker."""

    kinds: frozenset[str]
    """The kinds this process has a sender for: only rows of those are leased to it (a
    mail row written by a process without SMTP, which writes none of its own, cannot
    arise; one due later waits in the table for any worker's claim)."""
    lease: timedelta
    """How long the worker holds one before any other may claim it."""


def _webhooks_text(targets: Sequence[WebhookTarget]) -> str:
    """``channels.webhooks`` for these subscriptions (as ``server/store/reach.py`` writes it)."""
    listed = [{"id": w.id, "party": w.party, "types": list(w.types)} for w in targets]
    return json.dumps(sorted(listed, key=lambda w: w["id"]), separators=(",", ":"), sort_keys=True)


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
