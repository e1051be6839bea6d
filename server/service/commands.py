"""Commands: send, confirm receipt, decide, cancel, register a key, and the deadline sweep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from client.protocol import schemas
from client.protocol.log import CompactRange
from client.protocol.times import utc_now
from server.domain import rules
from server.domain.errors import NotFound
from server.domain.events import LogEvent, evolve
from server.domain.model import Actor, Notice
from server.fanout import Fanout
from server.service import log as log_service
from server.store.db import Database
from server.store.repository import Repository
from server.store.tree import TreeStore

__all__ = ["KeyOutcome", "Outcome", "execute", "mark_overdue", "register_key"]

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


_Result = TypeVar("_Result", Outcome, KeyOutcome)


async def execute(
    db: Database,
    command: rules.Command,
    *,
    channel_id: str,
    actor: Actor | None,
    fanout: Fanout | None = None,
) -> Outcome:
    """Carry out ``command`` on a channel in one transaction, then publish its events.

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
    return await _shielded(
        _commit_and_publish(
            lambda: _execute_once(db, command, channel_id=channel_id, actor=actor), fanout
        )
    )


async def register_key(
    db: Database,
    verifier_key: str,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> KeyOutcome:
    """Register ``actor``'s verifier key on a channel: one transaction, then publish.

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
    return await _shielded(
        _commit_and_publish(
            lambda: _register_once(db, verifier_key, channel_id=channel_id, actor=actor), fanout
        )
    )


async def _shielded(work: Coroutine[Any, Any, _Result]) -> _Result:
    # Shielded: once the transaction may commit, it must also be published, even if the
    # caller is cancelled meanwhile (a socket closing under its own command), or live
    # clients would miss an event that is in the log.
    task = asyncio.ensure_future(work)
    _in_flight.add(task)  # the event loop keeps only weak references to tasks
    task.add_done_callback(_settled)
    return await asyncio.shield(task)


_in_flight: set[asyncio.Future[Any]] = set()


def _settled(task: asyncio.Future[Any]) -> None:
    _in_flight.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Retrieved here so that a failure whose caller was cancelled is still seen.
        log.debug("a command failed", exc_info=task.exception())


async def _commit_and_publish(
    transaction: Callable[[], Awaitable[_Result]], fanout: Fanout | None
) -> _Result:
    try:
        outcome = await transaction()
    except IntegrityError:
        # Two channels' transactions inserted the same new notice id at once (PostgreSQL
        # locks per channel). Run again: this time the rules see the winner's notice.
        outcome = await transaction()
    if fanout is not None and outcome.root is not None:
        # Only now: nothing is pushed uncommitted.
        await fanout.publish(outcome.events, root=outcome.root)
    return outcome


async def _execute_once(
    db: Database, command: rules.Command, *, channel_id: str, actor: Actor | None
) -> Outcome:
    async with db.session() as session:
        repo = Repository(session)
        locked = await repo.lock_channel(channel_id, party=None if actor is None else actor.party)
        if locked is None:
            raise NotFound(f"no channel {channel_id}")
        channel, head = locked
        now = utc_now()  # read after taking the lock, so times rise with sequence numbers
        stored = await repo.notice(command.notice_id)
        referenced = None
        if isinstance(command, rules.SendNotice) and command.content.refers_to is not None:
            found = await repo.notice(command.content.refers_to)
            referenced = None if found is None else found[0]
        notice = None if stored is None else stored[0]
        key = None
        signed = isinstance(command, rules.SendNotice | rules.Decide) and command.signature
        if signed and actor is not None:
            # Read only for a signed command: an unsigned one costs no extra query.
            key = await _key_in_force(repo, channel.id, actor.operator)
        events = rules.decide(
            command,
            channel=channel,
            actor=actor,
            notice=notice,
            now=now,
            referenced=referenced,
            key=key,
        )
        if not events:
            # A repeat: nothing to write, answer with the notice as it stands.
            assert stored is not None, "the rules only return no events for an existing notice"
            return Outcome(notice=stored[0], seq=stored[1], events=[])
        state = reduce(evolve, events, notice)
        assert state is not None
        appended, edge = await _append(db, repo, channel.id, head, events)
        if stored is None:
            await repo.insert_notice(state, sent_seq=appended[0].seq)
            seq = appended[0].seq
        else:
            await repo.update_notice(state)
            seq = stored[1]
        await session.commit()
        # Only once committed: an edge remembered from a transaction that then failed or
        # was cancelled could stand for a tree that is not the database's.
        db.tree_edges.remember(channel.id, edge)
    return Outcome(notice=state, seq=seq, events=appended, root=edge.root())


async def _register_once(
    db: Database, verifier_key: str, *, channel_id: str, actor: Actor
) -> KeyOutcome:
    async with db.session() as session:
        repo = Repository(session)
        locked = await repo.lock_channel(channel_id, party=actor.party)
        if locked is None:
            raise NotFound(f"no channel {channel_id}")
        channel, head = locked
        current = await repo.key_in_force(channel.id, actor.operator)
        events = rules.register_key(
            rules.RegisterKey(verifier_key),
            channel=channel,
            actor=actor,
            key=None if current is None else current.data["verifier_key"],
            now=utc_now(),
        )
        if not events:
            assert current is not None, "the rules only return no events for the key in force"
            return KeyOutcome(registration=current, events=[])
        appended, edge = await _append(db, repo, channel.id, head, events)
        await session.commit()
        db.tree_edges.remember(channel.id, edge)
    return KeyOutcome(registration=appended[0], events=appended, root=edge.root())


async def _key_in_force(repo: Repository, channel_id: str, operator: str) -> str | None:
    found = await repo.key_in_force(channel_id, operator)
    return None if found is None else str(found.data["verifier_key"])


async def _append(
    db: Database, repo: Repository, channel_id: str, head: int, events: Sequence[LogEvent]
) -> tuple[list[schemas.Event], CompactRange]:
    """Write events to the log and their leaves to the channel's Merkle tree.

    Returns the events as appended and the tree's new right edge. The edge this process
    remembers is used only if it has ``head`` leaves (the head just read under the
    channel's lock): any other size means another process appended since, and the edge
    is read. The caller remembers the new edge once, and only once, it has committed.
    """
    appended = await repo.append(channel_id, head, events)
    edge = await log_service.append_leaves(
        TreeStore(repo.session),
        channel_id,
        head,
        appended,
        edge=db.tree_edges.get(channel_id, head),
    )
    return appended, edge


async def mark_overdue(
    db: Database, *, fanout: Fanout | None = None, limit: int = 100
) -> list[schemas.Event]:
    """Log ``notice.overdue`` for every notice whose deadline passed undecided.

    Each notice is its own command and transaction, like any other; a notice decided in
    the meantime simply yields no event.

    Returns:
        The events appended.
    """
    async with db.session() as session:
        due = await Repository(session).overdue_candidates(utc_now(), limit=limit)
    appended: list[schemas.Event] = []
    for channel_id, notice_id in due:
        outcome = await execute(
            db, rules.MarkOverdue(notice_id), channel_id=channel_id, actor=None, fanout=fanout
        )
        appended.extend(outcome.events)
    if appended:
        log.info("deadlines passed", extra={"overdue": len(appended)})
    return appended
