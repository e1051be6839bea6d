"""The one clock: a task in each server process that fires due actions when their time comes.

Everything the server does unasked (a notice going overdue, a reminder, an escalation, a
liveness check asked or missed) is a *due action*, a row of the ``due_actions`` table
written in the same transaction as whatever started it (``server/domain/clock.py`` says
which actions follow which). The scheduler only decides *when* to look:

- a **pass** (:meth:`Scheduler.fire_due`) hands everything due at the clock's ``now`` to
  the writer, a batch at a time (``commands.fire_due``), while full batches come back, so
  that a server that was down catches up at once (what firing makes due by then, the
  writer fires in the same batch), stamping each event with the time it fired (its
  ``at``) and the time it was due (``due_at`` in its data);
- between passes (:meth:`Scheduler.run`) it sleeps until the next due time it can see, one
  ``MIN(due_at)`` read away, or ``every`` seconds if that is sooner: a due action written
  since (a notice just sent, by this process or another) is seen at the next look.

What the scheduler does not do is decide whether an action fires, or how many times:

- **never early**: only rows with ``due_at <= now`` are claimed, and the domain gives back
  any it is handed before its time;
- **exactly once**: the writer claims rows and deletes each in the transaction that fires
  it. On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``, so two processes never take the
  same row and never wait for each other; on SQLite the writer's ``BEGIN IMMEDIATE`` holds
  the database's one write lock, so there is no second claimant to begin with.

A due action that fails to fire (a row this version cannot fire, say) does not stop the
others: ``commands.fire_due`` then fires them one at a time and sets the bad one aside,
put off by ``commands.SET_ASIDE`` and logged as an error. A pass that fails all the same
(the database's trouble, not a row's) is logged and tried again at the next one; the
server stays up.
"""

from __future__ import annotations

import asyncio
import logging

from client.protocol import schemas
from client.protocol.times import parse_time
from server.fanout import Fanout
from server.service import commands
from server.store.availability import log_failure
from server.store.db import Database
from server.store.repository import Repository

__all__ = ["MIN_WAIT", "Scheduler"]

log = logging.getLogger(__name__)

MIN_WAIT = 0.02
"""Seconds the scheduler waits at least between passes. Something can be due and still
not be claimable: another process holds it, in the middle of firing it. A short pause then
lets that process commit, rather than asking again at once."""


class Scheduler:
    """Fires a database's due actions from this process, on the database's clock.

    Args:
        db: the database; its ``clock`` says what time it is.
        fanout: where the events fired go once committed.
        every: the longest wait, in seconds, between two looks for due actions.
        batch: how many due actions one writer batch claims at most.
    """

    def __init__(self, db: Database, fanout: Fanout | None, *, every: float, batch: int = 100):
        if every <= 0 or batch < 1:
            raise ValueError("the scheduler needs every > 0 and batch >= 1")
        self.db = db
        self.fanout = fanout
        self.every = every
        self.batch = batch

    async def fire_due(self) -> list[schemas.Event]:
        """One pass: fire everything due at the clock's ``now``, a batch at a time.

        The pass claims again while full batches come back, so that a server that was down
        catches up at once. What its own actions make due by then (a reminder after an
        overdue notice, the reminder after that) the writer fires in the same batch, in due
        order: a server that slept through a whole chase logs it whole in one pass.

        Returns:
            The events the pass appended, in the order they were committed.
        """
        now = self.db.clock.now()
        fired: list[schemas.Event] = []
        while True:
            outcome = await commands.fire_due(
                self.db, now=now, limit=self.batch, fanout=self.fanout
            )
            fired.extend(outcome.events)
            if outcome.claimed < self.batch:
                break
        if fired:
            log.info("clock fired", extra={"events": len(fired), "late_ms": _most_late(fired)})
        return fired

    async def seconds_to_next(self) -> float:
        """How long to wait before the next pass: until the next due time, ``every`` at most."""
        async with self.db.session() as session:
            next_due = await Repository(session).next_due_at()
        if next_due is None:
            return self.every
        seconds = (next_due - self.db.clock.now()).total_seconds()
        return min(self.every, max(seconds, MIN_WAIT))

    async def run(self) -> None:
        """Fire due actions as their times come, until cancelled (the server's lifespan)."""
        while True:
            try:
                await self.fire_due()
                wait = await self.seconds_to_next()
            except Exception as error:  # retried at the next pass: a lost connection, a full disk
                log_failure(log, "the clock's pass", error)
                wait = self.every
            await asyncio.sleep(wait)


def _most_late(events: list[schemas.Event]) -> int:
    """The most any of ``events`` fired after its due time, in milliseconds (0: none late)."""
    lateness = [
        event.at - parse_time(str(event.data["due_at"]))
        for event in events
        if "due_at" in event.data and event.actor is None
    ]
    return max((round(late.total_seconds() * 1000) for late in lateness), default=0)
