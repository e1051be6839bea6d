"""Commands: send, confirm receipt, decide, cancel, and the deadline watcher's sweep."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import reduce

from sqlalchemy.exc import IntegrityError

from client.protocol import schemas
from client.protocol.times import utc_now
from server.domain import rules
from server.domain.errors import NotFound
from server.domain.events import evolve
from server.domain.model import Actor, Notice
from server.fanout import Fanout
from server.store.db import Database
from server.store.repository import Repository

__all__ = ["Outcome", "execute", "mark_overdue"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command left behind once committed."""

    notice: Notice
    seq: int
    """Sequence number of the notice's ``notice.sent`` event."""
    events: list[schemas.Event]
    """The events this command appended; empty when it repeated one already applied."""

    @property
    def changed(self) -> bool:
        """Whether the command wrote anything (``False`` for an idempotent repeat)."""
        return bool(self.events)


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
    # Shielded: once the transaction may commit, it must also be published, even if the
    # caller is cancelled meanwhile (a socket closing under its own command), or live
    # clients would miss an event that is in the log.
    task = asyncio.ensure_future(
        _commit_and_publish(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    )
    _in_flight.add(task)  # the event loop keeps only weak references to tasks
    task.add_done_callback(_settled)
    return await asyncio.shield(task)


_in_flight: set[asyncio.Future[Outcome]] = set()


def _settled(task: asyncio.Future[Outcome]) -> None:
    _in_flight.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Retrieved here so that a failure whose caller was cancelled is still seen.
        log.debug("a command failed", exc_info=task.exception())


async def _commit_and_publish(
    db: Database,
    command: rules.Command,
    *,
    channel_id: str,
    actor: Actor | None,
    fanout: Fanout | None,
) -> Outcome:
    try:
        outcome = await _execute_once(db, command, channel_id=channel_id, actor=actor)
    except IntegrityError:
        # Two channels' transactions inserted the same new notice id at once (PostgreSQL
        # locks per channel). Run again: this time the rules see the winner's notice.
        outcome = await _execute_once(db, command, channel_id=channel_id, actor=actor)
    if fanout is not None and outcome.events:
        await fanout.publish(outcome.events)  # only now: nothing is pushed uncommitted
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
        events = rules.decide(
            command, channel=channel, actor=actor, notice=notice, now=now, referenced=referenced
        )
        if not events:
            # A repeat: nothing to write, answer with the notice as it stands.
            assert stored is not None, "the rules only return no events for an existing notice"
            return Outcome(notice=stored[0], seq=stored[1], events=[])
        state = reduce(evolve, events, notice)
        assert state is not None
        appended = await repo.append(channel.id, head, events)
        if stored is None:
            await repo.insert_notice(state, sent_seq=appended[0].seq)
            seq = appended[0].seq
        else:
            await repo.update_notice(state)
            seq = stored[1]
        await session.commit()
    return Outcome(notice=state, seq=seq, events=appended)


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
