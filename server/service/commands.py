"""Commands: send, confirm receipt, decide, cancel, register a key, and the deadline sweep."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial, reduce

from client.protocol import schemas
from client.protocol.times import utc_now
from server.domain import rules
from server.domain.events import evolve
from server.domain.model import Actor, Notice
from server.fanout import Fanout
from server.store.db import Database
from server.store.ledger import Batch
from server.store.repository import Repository

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
    named = [command.notice_id]
    if isinstance(command, rules.SendNotice) and command.content.refers_to is not None:
        named.append(command.content.refers_to)
    keys = []
    if isinstance(command, rules.SendNotice | rules.Decide) and command.signature and actor:
        keys.append((channel_id, actor.operator))  # to check the signature with
    return await db.writer.run(
        partial(_execute_in, command=command, channel_id=channel_id, actor=actor),
        channel_id=channel_id,
        notice_ids=named,
        keys=keys,
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


# -- run by the writer against the batch: no await, the batch has read what they need ----


def _execute_in(
    batch: Batch, *, command: rules.Command, channel_id: str, actor: Actor | None
) -> Outcome:
    channel = batch.channel(channel_id, party=None if actor is None else actor.party)
    now = utc_now()  # read under the channel's lock, so times rise with sequence numbers
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
        now=now,
        referenced=referenced,
        key=key,
    )
    if not events:
        # A repeat: nothing to write, answer with the notice as it stands.
        assert stored is not None, "the rules only return no events for an existing notice"
        return Outcome(notice=stored.notice, seq=stored.seq, events=[])
    state = reduce(evolve, events, notice)
    assert state is not None
    appended, root = batch.append(channel.id, events)
    seq = appended[0].seq if stored is None else stored.seq
    batch.save_notice(state, seq=seq)
    return Outcome(notice=state, seq=seq, events=appended, root=root)


def _register_in(batch: Batch, *, verifier_key: str, channel_id: str, actor: Actor) -> KeyOutcome:
    channel = batch.channel(channel_id, party=actor.party)
    current = batch.key_in_force(channel.id, actor.operator)
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
    appended, root = batch.append(channel.id, events)
    return KeyOutcome(registration=appended[0], events=appended, root=root)


async def mark_overdue(
    db: Database, *, fanout: Fanout | None = None, limit: int = 100
) -> list[schemas.Event]:
    """Log ``notice.overdue`` for every notice whose deadline passed undecided.

    Each notice is its own command, like any other; a notice decided in the meantime
    simply yields no event.

    Returns:
        The events appended.
    """
    async with db.session() as session:
        due = await Repository(session).overdue_candidates(utc_now(), limit=limit)
    # Queued together, so they are likely committed together: one batch, one fsync.
    outcomes = await asyncio.gather(
        *(
            execute(
                db, rules.MarkOverdue(notice_id), channel_id=channel_id, actor=None, fanout=fanout
            )
            for channel_id, notice_id in due
        ),
        return_exceptions=True,
    )
    appended: list[schemas.Event] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        appended.extend(outcome.events)
    if appended:
        log.info("deadlines passed", extra={"overdue": len(appended)})
    return appended
