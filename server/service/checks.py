"""Liveness checks: answering one, listing them, and each party's availability.

The clock asks (``check.requested``, fired by the scheduler through ``commands.fire_due``);
an operator of the party asked answers here (``check.answered``), through the single writer
like any other command; or the window closes and the clock logs ``check.missed``. The
``checks`` table holds each check's state, folded from those events by the writer.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

from client.protocol import schemas
from server.domain.checks import AnswerCheck, answer_check
from server.domain.errors import Invalid, NotFound
from server.domain.model import Actor, Check
from server.fanout import Fanout
from server.service.queries import decode_cursor, encode_cursor
from server.store.db import Database
from server.store.ledger import Batch
from server.store.watch import Watch
from server.store.writer import Needs

__all__ = [
    "AVAILABILITY_SPAN",
    "CheckOutcome",
    "answer",
    "availability",
    "check_out",
    "list_checks",
]

AVAILABILITY_SPAN = timedelta(days=7)
"""The range availability covers when no start is given: the week before its end."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What an answer left behind once committed."""

    check: schemas.Check
    events: list[schemas.Event]
    """The event appended; empty when the check had been answered already."""
    root: bytes | None = None
    """The channel's root after the event; ``None`` when there was none."""

    @property
    def changed(self) -> bool:
        """Whether the answer wrote anything (``False`` for a second answer)."""
        return bool(self.events)

    @property
    def roots(self) -> Mapping[str, bytes]:
        """The channel's root after the event, by channel (none if there was none)."""
        return {} if self.root is None else {self.check.channel: self.root}


def check_out(check: Check, seq: int) -> schemas.Check:
    """A check as the API serves it."""
    return schemas.Check(
        id=check.id,
        channel=check.channel,
        party=check.party,
        seq=seq,
        due_at=check.due_at,
        requested_at=check.requested_at,
        answer_by=check.answer_by,
        answered_at=check.answered_at,
        answered_by=check.answered_by,
        missed_at=check.missed_at,
    )


async def answer(
    db: Database,
    check_id: UUID,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> CheckOutcome:
    """Answer a check for the actor's party: committed, then published.

    Returns:
        The check as it stands, and the event appended (none if answered already).

    Raises:
        Refusal: no such check on the actor's channel (``NotFound``), a check of the other
            party (``Forbidden``), or one whose window has closed (``CheckClosed``).
    """
    return await db.writer.run(
        partial(_answer_in, check_id=check_id, channel_id=channel_id, actor=actor),
        channel_id=channel_id,
        needs=Needs(check_ids=[check_id]),
        publisher=fanout,
    )


async def list_checks(
    db: Database,
    actor: Actor,
    channel_id: str,
    *,
    party: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> schemas.CheckPage:
    """A page of a channel's checks, newest first, and the cursor of the next page.

    Raises:
        NotFound: no such channel, or not one of the actor's party's.
        Invalid: a cursor this server did not give out.
    """
    before = None if cursor is None else decode_cursor(cursor)
    async with db.session() as session:
        watch = Watch(session)
        if await watch.channel(channel_id, party=actor.party) is None:
            raise NotFound(f"no channel {channel_id}")
        found = await watch.checks(channel_id, party=party, before_seq=before, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_cursor(page[-1][1]) if len(found) > limit else None
    return schemas.CheckPage(items=[check_out(c, seq) for c, seq in page], next_cursor=next_cursor)


async def availability(
    db: Database,
    actor: Actor,
    channel_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.Availability:
    """How each party of a channel answered the checks requested in ``[since, until)``.

    Args:
        db: the database.
        actor: who asks; the channel must be its party's.
        channel_id: the channel.
        since: the range's start; :data:`AVAILABILITY_SPAN` before ``until`` if omitted.
        until: the range's end; now if omitted.

    Raises:
        NotFound: no such channel, or not one of the actor's party's.
        Invalid: the range is empty (``since`` not before ``until``).
    """
    until = db.clock.now() if until is None else until
    if since is None:
        try:
            since = until - AVAILABILITY_SPAN
        except OverflowError:  # a range that ends in the first week of the calendar
            since = datetime.min.replace(tzinfo=UTC)
    if since >= until:
        raise Invalid("`since` must be before `until`", field="since")
    async with db.session() as session:
        watch = Watch(session)
        channel = await watch.channel(channel_id, party=actor.party)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        requested = await watch.checks_requested(channel_id, since, until)
    return schemas.Availability(
        since=since,
        until=until,
        parties=[_of_party(p, [c for c in requested if c.party == p]) for p in channel.parties],
    )


def _of_party(party: str, checks: list[Check]) -> schemas.PartyAvailability:
    waits = [
        (c.answered_at - c.requested_at).total_seconds() * 1000
        for c in checks
        if c.answered_at is not None
    ]
    return schemas.PartyAvailability(
        party=party,
        requested=len(checks),
        answered=len(waits),
        missed=sum(1 for c in checks if c.answered_at is None and c.missed_at is not None),
        pending=sum(1 for c in checks if c.answered_at is None and c.missed_at is None),
        median_answer_ms=max(0, round(statistics.median(waits))) if waits else None,
    )


def _answer_in(batch: Batch, *, check_id: UUID, channel_id: str, actor: Actor) -> CheckOutcome:
    channel = batch.channel(channel_id, party=actor.party)
    check = batch.clockwork.check(check_id)
    events = answer_check(
        AnswerCheck(check_id), channel=channel, actor=actor, check=check, now=batch.now
    )
    assert check is not None, "the rules refuse an unknown check"
    seq = batch.clockwork.check_seq(check_id)
    if not events:
        return CheckOutcome(check=check_out(check, seq), events=[])
    appended, root = batch.append(channel.id, events)
    answered = batch.clockwork.check(check_id)
    assert answered is not None
    return CheckOutcome(check=check_out(answered, seq), events=appended, root=root)
