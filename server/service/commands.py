"""Commands: send, confirm receipt, decide, cancel, register a key, and the clock's firing.

Every command runs in the database's single writer (``server/store/writer.py``), against
what its batch read when it opened: a command says up front what it will look at (the
notices it names, an area's active plans, a notice's open conflicts, the due actions it
claims), so that deciding never waits for the database.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial, reduce

from client.protocol import schemas
from client.protocol.times import format_time
from server.domain import clock, rules
from server.domain.clock import Due, DueKind
from server.domain.conflicts import Plan, area_key
from server.domain.errors import Refusal
from server.domain.events import (
    Event,
    LogEvent,
    NoticeCancelled,
    NoticeDecided,
    NoticeEscalated,
    NoticeOverdue,
    NoticeReceived,
    NoticeReminded,
    NoticeSent,
    evolve,
)
from server.domain.model import Actor, Check, Notice, PlanConflict
from server.fanout import Fanout
from server.service.attachments import check_listed
from server.store.availability import is_unavailable
from server.store.clockwork import NOTICE_KINDS, Claim, Claimed
from server.store.db import Database
from server.store.ledger import Batch
from server.store.repository import Repository, WaitingDue
from server.store.writer import Needs

__all__ = [
    "SET_ASIDE",
    "FireOutcome",
    "KeyOutcome",
    "Outcome",
    "execute",
    "fire_due",
    "register_key",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command left behind once committed."""

    notice: Notice
    seq: int
    """Sequence number of the notice's ``notice.sent`` event."""
    events: list[schemas.Event]
    """The events this command appended; empty when it repeated one already applied."""
    root: bytes | None = None
    """The channel's Merkle root after the events; ``None`` when there were none."""

    @property
    def changed(self) -> bool:
        """Whether the command wrote anything (``False`` for an idempotent repeat)."""
        return bool(self.events)

    @property
    def roots(self) -> Mapping[str, bytes]:
        """The channel's root after the events, by channel (none if there were none)."""
        return {} if self.root is None else {self.notice.channel: self.root}


@dataclass(frozen=True, slots=True)
class KeyOutcome:
    """What a key registration left behind once committed."""

    registration: schemas.Event
    """The ``operator.key_registered`` event of the key now in force."""
    events: list[schemas.Event]
    """The events appended; empty when the key was in force already."""
    root: bytes | None = None
    """The channel's Merkle root after the events; ``None`` when there were none."""

    @property
    def changed(self) -> bool:
        """Whether the registration wrote anything."""
        return bool(self.events)

    @property
    def roots(self) -> Mapping[str, bytes]:
        """The channel's root after the events, by channel (none if there were none)."""
        return {} if self.root is None else {self.registration.channel: self.root}


@dataclass(frozen=True, slots=True)
class FireOutcome:
    """What one firing of the clock left behind once committed."""

    claimed: int
    """How many due actions it took (each fired, whether it logged anything or not, or
    set aside)."""
    events: list[schemas.Event] = field(default_factory=list)
    """The events appended, in log order per channel."""
    roots: Mapping[str, bytes] = field(default_factory=dict)
    """Per channel appended to, its root after the last event."""
    set_aside: int = 0
    """How many of them failed to fire, and were put off by :data:`SET_ASIDE`."""


async def execute(
    db: Database,
    command: rules.Command,
    *,
    channel_id: str,
    actor: Actor | None,
    fanout: Fanout | None = None,
) -> Outcome:
    """Carry out ``command`` on a channel: committed, then published, then answered.

    The command runs in the database's single writer (``server/store/writer.py``), in a
    batch with whatever other commands are waiting; it is all or nothing on its own.

    Args:
        db: the database.
        command: what is asked.
        channel_id: the channel it is addressed to.
        actor: the operator asking, or ``None`` for the server itself.
        fanout: where to publish the events once they are committed.

    Returns:
        The notice as it stands after the command, and the events it appended.

    Raises:
        Refusal: the channel is not the actor's, or the domain refused the command.
    """
    if isinstance(command, rules.SendNotice):
        # Before the writer: an upload never changes, so what holds now holds when it runs.
        await check_listed(db, actor, channel_id, command.content.attachments)
    named = [command.notice_id]
    areas: list[tuple[str, str]] = []
    conflicts_of = []
    if isinstance(command, rules.SendNotice):
        content = command.content
        if content.refers_to is not None:
            named.append(content.refers_to)
            if content.activity is not None:  # an update may replace the plan it refers to
                conflicts_of.append(content.refers_to)
        if content.activity is not None and content.area is not None:
            areas.append((channel_id, area_key(content.area)))  # to compare plans with
    elif isinstance(command, rules.Cancel):
        conflicts_of.append(command.notice_id)  # read only if the notice is a plan
    keys = []
    if isinstance(command, rules.SendNotice | rules.Decide) and command.signature and actor:
        keys.append((channel_id, actor.operator))  # to check the signature with
    return await db.writer.run(
        partial(_execute_in, command=command, channel_id=channel_id, actor=actor),
        channel_id=channel_id,
        notice_ids=named,
        keys=keys,
        needs=Needs(areas=areas, conflicts_of=conflicts_of),
        publisher=fanout,
    )


async def register_key(
    db: Database,
    verifier_key: str,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> KeyOutcome:
    """Register ``actor``'s verifier key on a channel: committed, then published.

    Args:
        db: the database.
        verifier_key: the key, named after the operator.
        channel_id: the channel whose log records it.
        actor: the operator registering its own key.
        fanout: where to publish the event once it is committed.

    Returns:
        The registration in force, and the event appended (none if it was in force).

    Raises:
        Refusal: the channel is not the actor's, or the domain refused the key.
    """
    return await db.writer.run(
        partial(_register_in, verifier_key=verifier_key, channel_id=channel_id, actor=actor),
        channel_id=channel_id,
        keys=[(channel_id, actor.operator)],
        publisher=fanout,
    )


SET_ASIDE = timedelta(minutes=10)
"""How long a due action whose firing failed is put off before it is tried again."""


async def fire_due(
    db: Database, *, now: datetime | None = None, limit: int = 100, fanout: Fanout | None = None
) -> FireOutcome:
    """Fire at most ``limit`` due actions whose time has come: committed, then published.

    One command of the writer claims them (``server/store/clockwork.py``), fires each with
    the pure clock (``server/domain/clock.py``), appends what they cause, deletes them and
    keeps the due actions that follow, all in one transaction. A due action fires once
    however many processes call this at once: a claimed one is locked, then gone.

    If that fails (a row this version cannot fire, say), the same due actions are fired
    one at a time, each in a command of its own, so that one bad row cannot stop the
    clock: a due action whose firing fails is set aside, its time put off by
    :data:`SET_ASIDE` in a transaction of its own and logged as an error, and the others
    fire. A set-aside action is never deleted unfired, nor fired early.

    Args:
        db: the database.
        now: fire what is due at this moment or before (the database's clock by default).
            The events are stamped with the clock read under the channels' locks; an action
            not due by then is kept for later, never fired early.
        limit: how many due actions to claim at most.
        fanout: where to publish the events once they are committed.

    Returns:
        How many due actions were taken (fired or set aside), and the events appended.

    Raises:
        Exception: firing failed, and so did setting aside (the database's trouble, not a
            row's): the caller tries again later.
    """
    at = db.clock.now() if now is None else now
    try:
        return await _fire(db, Claim(at, limit), fanout)
    except Refusal:
        raise
    except Exception as error:
        log.warning(
            "firing due actions failed; firing them one at a time",
            extra={"limit": limit, "error": type(error).__name__},
        )
    async with db.session() as session:
        waiting = await Repository(session).due_by(at, limit=limit)
    claimed = set_aside = 0
    events: list[schemas.Event] = []
    roots: dict[str, bytes] = {}
    for due in waiting:
        try:
            alone = await _fire(db, Claim(at, 1, row=due.id), fanout)
        except Refusal:
            raise
        except Exception as error:
            if is_unavailable(error):
                raise  # an outage is not a poison row: the whole pass is tried again
            await _set_aside(db, due, until=at + SET_ASIDE, error=error)
            claimed, set_aside = claimed + 1, set_aside + 1
            continue
        claimed += alone.claimed
        events.extend(alone.events)
        roots.update(alone.roots)
    return FireOutcome(claimed=claimed, events=events, roots=roots, set_aside=set_aside)


async def _fire(db: Database, claim: Claim, fanout: Fanout | None) -> FireOutcome:
    return await db.writer.run(
        partial(_fire_in, claim=claim),
        channel_id=None,
        needs=Needs(claim=claim),
        publisher=fanout,
    )


async def _set_aside(db: Database, due: WaitingDue, *, until: datetime, error: Exception) -> None:
    """Put off a due action whose firing failed, in a command of its own, and say so."""
    await db.writer.run(partial(_set_aside_in, row=due.id, until=until), channel_id=None)
    log.error(
        "a due action failed to fire; set aside",
        extra={
            "due_action": str(due.id),
            "kind": due.kind,
            "channel": due.channel,
            "subject": str(due.subject),
            "until": format_time(until),
        },
        exc_info=error,
    )


# -- run by the writer against the batch: no await, the batch has read what they need ----

_NOTICE_EVENTS = (
    NoticeSent,
    NoticeReceived,
    NoticeDecided,
    NoticeCancelled,
    NoticeOverdue,
    NoticeReminded,
    NoticeEscalated,
)


def _of_notice(events: Sequence[LogEvent]) -> list[Event]:
    """The events that change a notice's state (not a conflict's, a check's or a key's)."""
    return [event for event in events if isinstance(event, _NOTICE_EVENTS)]


def _execute_in(
    batch: Batch, *, command: rules.Command, channel_id: str, actor: Actor | None
) -> Outcome:
    channel = batch.channel(channel_id, party=None if actor is None else actor.party)
    stored = batch.notice(command.notice_id)
    referenced = None
    if isinstance(command, rules.SendNotice) and command.content.refers_to is not None:
        found = batch.notice(command.content.refers_to)
        referenced = None if found is None else found.notice
    notice = None if stored is None else stored.notice
    key = None
    signed = isinstance(command, rules.SendNotice | rules.Decide) and command.signature
    if signed and actor is not None:
        # Read only for a signed command: an unsigned one costs no extra query.
        registration = batch.key_in_force(channel.id, actor.operator)
        key = None if registration is None else str(registration.data["verifier_key"])
    events = rules.decide(
        command,
        channel=channel,
        actor=actor,
        notice=notice,
        now=batch.now,
        referenced=referenced,
        key=key,
        plans=_plans(batch, command, channel_id),
        conflicts=_conflicts(batch, command),
    )
    if not events:
        # A repeat: nothing to write, answer with the notice as it stands.
        assert stored is not None, "the rules only return no events for an existing notice"
        return Outcome(notice=stored.notice, seq=stored.seq, events=[])
    state = reduce(evolve, _of_notice(events), notice)
    assert state is not None
    appended, root = batch.append(channel.id, events)
    seq = appended[0].seq if stored is None else stored.seq
    batch.save_notice(state, seq=seq)
    batch.clockwork.schedule(clock.scheduled(events, channel))
    return Outcome(notice=state, seq=seq, events=appended, root=root)


def _plans(batch: Batch, command: rules.Command, channel_id: str) -> list[Plan]:
    if not isinstance(command, rules.SendNotice):
        return []
    content = command.content
    if content.activity is None or content.area is None:
        return []
    return batch.plans_in(channel_id, area_key(content.area))


def _conflicts(batch: Batch, command: rules.Command) -> list[PlanConflict]:
    if isinstance(command, rules.Cancel):
        return batch.conflicts_of(command.notice_id)
    if isinstance(command, rules.SendNotice):
        refers_to = command.content.refers_to
        if refers_to is not None and command.content.activity is not None:
            return batch.conflicts_of(refers_to)
    return []


def _register_in(batch: Batch, *, verifier_key: str, channel_id: str, actor: Actor) -> KeyOutcome:
    channel = batch.channel(channel_id, party=actor.party)
    current = batch.key_in_force(channel.id, actor.operator)
    events = rules.register_key(
        rules.RegisterKey(verifier_key),
        channel=channel,
        actor=actor,
        key=None if current is None else current.data["verifier_key"],
        now=batch.now,
    )
    if not events:
        assert current is not None, "the rules only return no events for the key in force"
        return KeyOutcome(registration=current, events=[])
    appended, root = batch.append(channel.id, events)
    return KeyOutcome(registration=appended[0], events=appended, root=root)


def _fire_in(batch: Batch, *, claim: Claim) -> FireOutcome:
    claimed = batch.clockwork.claimed(claim)
    # In due order, and a due action that follows one fired and is due already (a late
    # server catching up a whole chase) is fired in the same batch, in its turn: the log
    # then reads overdue, reminder 1, reminder 2, escalated, as the times say.
    waiting: list[tuple[datetime, int, int, Due, Claimed | None]] = []
    for one in claimed:
        heapq.heappush(waiting, (*_turn(one.due), len(waiting), one.due, one))
    appended: list[schemas.Event] = []
    roots: dict[str, bytes] = {}
    turn = len(waiting)
    while waiting:
        *_, due, item = heapq.heappop(waiting)
        if item is not None:
            batch.clockwork.fired(item)
        fired = _fire_one(batch, due)
        for following in fired.next:
            if following.due_at <= batch.now:
                turn += 1
                heapq.heappush(waiting, (*_turn(following), turn, following, None))
            else:
                batch.clockwork.schedule([following])
        if fired.events:
            events, roots[due.channel] = batch.append(due.channel, fired.events)
            appended.extend(events)
    return FireOutcome(claimed=len(claimed), events=appended, roots=roots)


def _set_aside_in(batch: Batch, *, row: uuid.UUID, until: datetime) -> FireOutcome:
    batch.clockwork.set_aside(row, until)
    return FireOutcome(claimed=0)


_KIND_ORDER = {kind: n for n, kind in enumerate(clock.DueKind)}


def _turn(due: Due) -> tuple[datetime, int]:
    """When a due action fires among others: by time, then overdue, reminder, escalation."""
    return due.due_at, _KIND_ORDER[due.kind]


def _checks_of(batch: Batch, due: Due, parties: Sequence[str]) -> list[Check]:
    """The checks a due action concerns, as the batch has them: the one a miss names, or
    those a tick asks that exist already (a second copy of a tick that fired)."""
    if due.kind is DueKind.CHECK_MISSED:
        ids = [due.subject]
    elif due.kind is DueKind.REQUEST_CHECKS:
        ids = [clock.check_id(due.subject, due.due_at, party) for party in parties]
    else:
        return []
    return [check for i in ids if (check := batch.clockwork.check(i)) is not None]


def _fire_one(batch: Batch, due: Due) -> clock.Fired:
    """Fire one due action against the batch, and fold its events into its notice."""
    channel = batch.channel(due.channel, party=None)
    stored = batch.notice(due.subject) if due.kind in NOTICE_KINDS else None
    fired = clock.fire(
        due,
        channel=channel,
        now=batch.now,
        notice=None if stored is None else stored.notice,
        checks=_checks_of(batch, due, channel.parties),
        admins=batch.clockwork.admins,
    )
    changes = _of_notice(fired.events)
    if stored is not None and changes:
        batch.save_notice(reduce(evolve, changes, stored.notice), seq=stored.seq)
    return fired
