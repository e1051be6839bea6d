"""The delivery worker: sends what the outbox holds, tries again, and records every try.

The outbox (``server/domain/outbox.py`` decides what goes in it, ``server/store/ledger.py``
writes it) is the table ``deliveries``, each row written in the transaction of the event
that causes it: a webhook call, a mail. The :class:`Deliverer`, a task in each server
process beside the scheduler, empties it:

1. **Claim** a batch of rows that are due, with a lease, in a short transaction of its own
   (``server/store/outbox.py``; on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so that several
   processes share the work and never take the same row).
2. **Send** them outside any transaction, a few at a time, each through the
   :class:`Sender` of its kind (``server/service/webhooks.py``, ``server/service/mail.py``),
   each within the lease.
3. **Record** every try and what follows in one transaction: *delivered*; *skipped*
   (nothing to send); *waiting* again, until ``now`` plus a random wait below a ceiling that
   doubles with each failure (``retry_delay``, exponential back-off with full jitter);
   *failed* once out of tries or refused for good. The lease is cleared.

A row that cannot be sent never stops the worker: a sender that raises, or takes longer
than the lease allows, is a failed try like any other, logged and tried again later. A
process killed while sending never records: its lease runs out, and the row is anybody's
again (``delivery_lease_seconds``). So whatever was committed is sent **at least once**,
and the receiver drops a repeat by the delivery's stable id.

The worker looks again as soon as this process commits a delivery (the writer rings
:meth:`Deliverer.ring`, the doorbell), when the next row it knows of falls due, and at
least every ``delivery_check_seconds`` (for what other processes commit).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from client.protocol import schemas
from client.protocol.times import to_millisecond
from server.config import Settings
from server.domain.outbox import give_up, retry_delay
from server.metrics import Metrics
from server.store import outbox
from server.store.availability import log_failure
from server.store.db import Database
from server.store.ledger import Batch, HandOff

__all__ = ["MIN_WAIT", "Deliverer", "Outgoing", "Sender", "Sent"]

log = logging.getLogger(__name__)

RECORD_LINGER = 0.05
"""Seconds the tries of hand-overs wait to be recorded together, in one command of the
writer (one commit) rather than one each. Lost if the process dies meanwhile: the rows
are then sent again once their leases are over (the receiver drops the repeat)."""

_SENDING = 0.9
"""The part of a lease its sends may take; the rest is left to record them."""

MIN_WAIT = 0.02
"""Seconds the worker waits at least between two passes, so that a row another process
holds, due now, is not asked for again at once."""

_ERROR_CHARS = 500
"""The most of an error kept with a try: enough to read, not a receiver's whole page."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed delivery, as the worker hands it to a sender."""

    id: uuid.UUID
    """Stable: the ``webhook-id``, the mail's ``Message-ID``; a receiver drops repeats by it."""
    kind: str
    """``webhook`` or ``mail``: which sender it goes to."""
    channel: str
    seq: int
    """The event that caused it."""
    event_type: str
    target: str
    """A webhook's id, ``operator:<id>`` or ``party:<id>``."""
    attempt: int
    """The number of this try, from 1."""


@dataclass(frozen=True, slots=True)
class Sent:
    """How one try went, as a sender tells the worker."""

    ok: bool
    status_code: int | None = None
    """The receiver's answer (an HTTP status, an SMTP reply code), if there was one."""
    error: str | None = None
    """What went wrong (or why it was skipped), short, never a secret."""
    permanent: bool = False
    """Do not try again (``410 Gone``, an address the mail server refuses)."""
    skipped: bool = False
    """Nothing to send (nobody has an address, the party is online): not tried again."""


class Sender(Protocol):
    """Sends deliveries of one kind. Loads what it needs itself (the event, the address)."""

    async def send(self, delivery: Outgoing) -> Sent:
        """Try once; report how it went rather than raise."""
        ...


class Deliverer:
    """Sends a database's outbox from this process.

    Args:
        db: the database; its ``clock`` says what time it is.
        senders: a sender for each kind this process sends (``webhook``, ``mail``); rows of
            other kinds are left to processes that can send them.
        settings: ``delivery_*``: how often to look, how many tries, how long to wait
            between them, how long a lease lasts.
        metrics: where to count what was sent, failed, retried, skipped and is waiting.
        rng: where retry waits are drawn from (a seeded one in tests).
        batch: how many deliveries one claim takes at most.
        concurrency: how many of them are being sent at once at most.
    """

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        *,
        settings: Settings,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        batch: int = 100,
        concurrency: int = 16,
    ) -> None:
        if batch < 1 or concurrency < 1:
            raise ValueError("the delivery worker needs batch >= 1 and concurrency >= 1")
        self.db = db
        self.senders = dict(senders)
        self.settings = settings
        self.metrics = metrics
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.batch = batch
        self.concurrency = concurrency
        self._bell: asyncio.Event | None = None
        self._stopping = False
        self._slots = asyncio.Semaphore(concurrency)
        """Sends in flight at most, whatever started them (hand-overs, claims)."""
        self._handed: set[asyncio.Task[Any]] = set()
        self._retry_at: float | None = None
        self._pending: list[tuple[Sequence[outbox.Claimed], list[outbox.Outcome]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._look = True

    # -- straight from the writer --------------------------------------------------------

    @property
    def handoff(self) -> HandOff | None:
        """What the writer leases to this worker as it writes it: the deliveries due at
        once of the kinds it sends, while it runs (``None`` when it does not)."""
        if self._bell is None or self._stopping:
            return None
        lease = timedelta(seconds=self.settings.delivery_lease_seconds)
        return HandOff(kinds=frozenset(self.senders), lease=lease)

    def take(self, claimed: Sequence[outbox.Claimed]) -> None:
        """Deliveries just committed, leased to this worker in their own transaction: sent
        without a claim (the writer calls this right after the commit).

        Each hand-over is sent by a task of its own, beside the others and beside the
        worker's claims, so that a slow receiver holds up nobody else's deliveries.
        """
        if self._bell is None or self._stopping:
            # Committed as the worker stopped: give the leases back, untried, so that the
            # rows need not wait them out.
            releasing = asyncio.get_running_loop().create_task(self._release(claimed, tried=False))
            self._handed.add(releasing)
            releasing.add_done_callback(self._handed.discard)
            return
        lease = self.settings.delivery_lease_seconds
        deadline = asyncio.get_running_loop().time() + _SENDING * lease  # the lease began now
        for start in range(0, len(claimed), self.batch):
            rows = claimed[start : start + self.batch]
            sending = self._send_and_record(rows, deadline, linger=True)
            task = asyncio.get_running_loop().create_task(sending)
            self._handed.add(task)
            task.add_done_callback(self._handed_done)

    def _handed_done(self, task: asyncio.Task[list[outbox.Outcome]]) -> None:
        self._handed.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:  # the database's trouble: the leases run out
            log_failure(log, "sending deliveries handed over", error)
            return
        retries = [o.next_attempt_at for o in task.result() if o.next_attempt_at is not None]
        if retries:  # look in the outbox again when the first of them is due
            seconds = (min(retries) - self.db.clock.now()).total_seconds()
            at = asyncio.get_running_loop().time() + max(seconds, MIN_WAIT)
            self._retry_at = at if self._retry_at is None else min(self._retry_at, at)
            if self._bell is not None:
                self._bell.set()

    # -- the doorbell ---------------------------------------------------------------------

    def ring(self) -> None:
        """Look in the outbox now: something was committed to send that this worker was not
        handed (due later, or of a kind another process sends)."""
        self._look = True
        if self._bell is not None:
            self._bell.set()

    # -- one pass ------------------------------------------------------------------------

    async def deliver_due(self) -> list[outbox.Outcome]:
        """One pass: claim, send and record what is due, a batch at a time, while full.

        Returns:
            Every try the pass made, in the order recorded.
        """
        tried: list[outbox.Outcome] = []
        while not self._stopping:
            claimed, deadline = await self._claim()
            if claimed:
                tried.extend(await self._send_and_record(claimed, deadline))
            if len(claimed) < self.batch:
                break
        return tried

    async def _claim(self) -> tuple[list[outbox.Claimed], float]:
        """Claim a batch; with the loop-clock time by which its sends must be done."""
        lease = self.settings.delivery_lease_seconds
        now = self.db.clock.now()
        until = now + timedelta(seconds=lease)
        kinds = self.senders.keys()
        most = self.settings.delivery_attempts
        async with self.db.engine.begin() as connection:
            await outbox.give_up_unreported(connection, now=now, most=most, kinds=kinds)
            claimed = await outbox.claim(
                connection, now=now, until=until, limit=self.batch, kinds=kinds, most=most
            )
        # Counted from the lease's end, not from now: the claim may have waited for a lock.
        left = (until - self.db.clock.now()).total_seconds() - (1 - _SENDING) * lease
        return claimed, asyncio.get_running_loop().time() + left

    async def _send_and_record(
        self, claimed: Sequence[outbox.Claimed], deadline: float, *, linger: bool = False
    ) -> list[outbox.Outcome]:
        """Send a batch under ``deadline`` (the loop's clock), and record every try.

        Each target's deliveries (one webhook, one mail recipient) are recorded as soon as
        they are all tried, whatever the others' receivers are doing: one that is slow to
        answer holds up only its own records.

        Returns:
            The tries, target by target.
        """
        by_target: dict[str, list[outbox.Claimed]] = {}
        for row in claimed:
            by_target.setdefault(row.target, []).append(row)
        tried = await asyncio.gather(
            *(
                self._send_and_record_one(rows, deadline, linger=linger)
                for rows in by_target.values()
            )
        )
        return [outcome for outcomes in tried for outcome in outcomes]

    async def _send_and_record_one(
        self, claimed: Sequence[outbox.Claimed], deadline: float, *, linger: bool
    ) -> list[outbox.Outcome]:
        """Send one target's deliveries under ``deadline``, then record every try.

        Every send must end before the lease does, or another process could take the row
        while it is still being sent here (a tenth of the lease is left to record). A row
        whose turn comes too late to begin a send within it is given back untried.
        """
        loop = asyncio.get_running_loop()
        # A send needs its own time limit's worth of the lease, or half the lease at most.
        needed = min(
            self.settings.webhook_timeout_seconds, self.settings.delivery_lease_seconds / 2
        )
        late: list[outbox.Claimed] = []

        async def bounded(row: outbox.Claimed) -> outbox.Outcome | None:
            async with self._slots:
                if loop.time() + needed > deadline:
                    late.append(row)
                    return None
                return await self._try(row, deadline)

        try:
            tried = await asyncio.gather(*(bounded(row) for row in claimed))
            if late:
                await self._release(late, tried=False)
            pairs = [(row, o) for row, o in zip(claimed, tried, strict=True) if o is not None]
            claimed = [row for row, _ in pairs]
            outcomes = [o for _, o in pairs]
            if not outcomes:
                return []
            if linger:
                self._pending.append((claimed, outcomes))
                if self._flushing is None:
                    self._flushing = loop.create_task(self._flush_later(), name="records")
            else:
                await self._write_records(claimed, outcomes)
        except asyncio.CancelledError:
            await self._release(claimed)
            raise
        return outcomes

    async def _write_records(
        self, claimed: Sequence[outbox.Claimed], outcomes: Sequence[outbox.Outcome]
    ) -> None:
        """Record tries through the single writer: they ride in its next group commit,
        with whatever commands are waiting, rather than in a transaction (and, on SQLite,
        a fight for the write lock) of their own."""
        now = to_millisecond(self.db.clock.now())
        record = partial(
            _record_in,
            tries=outbox.attempt_rows(outcomes),
            states=outbox.state_rows(outcomes, now=now),
        )
        await self.db.writer.run(record, channel_id=None)
        self._count(claimed, outcomes)

    async def _flush_later(self) -> None:
        """Record the hand-overs' tries a moment from now, all together."""
        try:
            await asyncio.sleep(RECORD_LINGER)
        finally:
            self._flushing = None
        await self.flush()

    async def flush(self) -> None:
        """Record at once the tries that wait for the next group of records."""
        pending, self._pending = self._pending, []
        if pending:
            claimed = [row for rows, _ in pending for row in rows]
            outcomes = [outcome for _, done in pending for outcome in done]
            await self._write_records(claimed, outcomes)

    async def _try(self, row: outbox.Claimed, deadline: float) -> outbox.Outcome:
        delivery = Outgoing(
            id=row.id,
            kind=row.kind,
            channel=row.channel,
            seq=row.seq,
            event_type=row.event_type,
            target=row.target,
            attempt=row.attempt,
        )
        at = self.db.clock.now()
        started = time.perf_counter()
        sent = await self._send(delivery, deadline)
        duration_ms = round((time.perf_counter() - started) * 1000)
        error = sent.error[:_ERROR_CHARS] if sent.error else None
        outcome = outbox.Outcome(
            id=row.id,
            attempt=row.attempt,
            at=at,
            ok=sent.ok,
            status_code=sent.status_code,
            error=error,
            duration_ms=duration_ms,
            status="delivered",
        )
        if sent.skipped:
            return replace(outcome, status="skipped")
        if sent.ok:
            return outcome
        if sent.permanent or give_up(row.attempt, attempts=self.settings.delivery_attempts):
            return replace(outcome, status="failed")
        wait = retry_delay(
            row.attempt,
            base=timedelta(seconds=self.settings.delivery_backoff_seconds),
            cap=timedelta(seconds=self.settings.delivery_backoff_max_seconds),
            rng=self.rng,
        )
        # To the millisecond, as every time the server keeps.
        next_try = to_millisecond(self.db.clock.now() + wait)
        return replace(outcome, status="waiting", next_attempt_at=next_try)

    async def _send(self, delivery: Outgoing, deadline: float) -> Sent:
        """One try through the kind's sender; whatever goes wrong is a failed try."""
        sender = self.senders.get(delivery.kind)
        if sender is None:  # claimed by kind, so only if the senders changed meanwhile
            return Sent(ok=False, error=f"no sender for {delivery.kind} deliveries here")
        try:
            async with asyncio.timeout_at(deadline) as limit:
                return await sender.send(delivery)
        except TimeoutError:
            if limit.expired():
                return Sent(ok=False, error="took longer than the delivery's lease allows")
            return Sent(ok=False, error=f"the {delivery.kind} sender timed out")
        except Exception as error:  # a bug in a sender must not stop the outbox
            log.exception(
                "a delivery's sender failed",
                extra={"delivery": str(delivery.id), "kind": delivery.kind},
            )
            return Sent(
                ok=False, error=f"the {delivery.kind} sender failed: {type(error).__name__}"
            )

    async def _release(self, claimed: Sequence[outbox.Claimed], *, tried: bool = True) -> None:
        """Give the leases back rather than make the rows wait them out: stopped mid-send
        (``tried``: the try stays counted), or never begun (uncounted)."""
        try:
            async with asyncio.timeout(2.0), self.db.engine.begin() as connection:
                await outbox.release(connection, claimed, tried=tried)
        except Exception:  # the leases run out by themselves
            log.warning("could not give back the leases of deliveries being sent")

    def _count(self, claimed: Sequence[outbox.Claimed], outcomes: Sequence[outbox.Outcome]) -> None:
        if self.metrics is None:
            return
        counters = {
            "delivered": self.metrics.deliveries_sent,
            "failed": self.metrics.deliveries_failed,
            "waiting": self.metrics.deliveries_retried,
            "skipped": self.metrics.deliveries_skipped,
        }
        tally = Counter((o.status, row.kind) for row, o in zip(claimed, outcomes, strict=True))
        for (status, kind), n in tally.items():
            counters[status].labels(kind=kind).inc(n)

    # -- between passes ------------------------------------------------------------------

    async def seconds_to_next(self) -> float:
        """How long to wait before the next pass: until a row is free to claim, at most
        ``delivery_check_seconds``. Updates the ``deliveries_waiting`` gauge on the way."""
        every = self.settings.delivery_check_seconds
        async with self.db.engine.connect() as connection:
            count, free_at = await outbox.waiting(connection, kinds=self.senders.keys())
        if self.metrics is not None:
            self.metrics.deliveries_waiting.set(count)
        if free_at is None:
            return every
        seconds = (free_at - self.db.clock.now()).total_seconds()
        return min(every, max(seconds, MIN_WAIT))

    def stop(self) -> None:
        """Finish the batch being sent, then return from :meth:`run` (a server shutting down).

        Cancelling :meth:`run` stops at once instead: the batch's leases are given back
        unrecorded, and what was sent meanwhile is sent again by the next claimant.
        """
        self._stopping = True
        self.ring()

    async def run(self) -> None:
        """Send due deliveries as they come, until stopped or cancelled (the server's lifespan).

        What this process commits is handed over at once (:meth:`take`) and sent without a
        claim. The outbox itself is looked at when rung, when the next row it knows of falls
        due, and at least every ``delivery_check_seconds`` (a read; a claim only when
        something is free to take).

        Returns at once if :meth:`stop` came first (a server stopped as it started); once
        stopped, it lets the hand-overs being sent finish.
        """
        bell = self._bell = asyncio.Event()
        every = self.settings.delivery_check_seconds
        clock = asyncio.get_running_loop().time
        look_at = clock()
        try:
            while not self._stopping:
                bell.clear()  # a ring or a hand-over from here on: round again when done
                if self._retry_at is not None:
                    look_at, self._retry_at = min(look_at, self._retry_at), None
                try:
                    if self._look or clock() >= look_at:
                        self._look = False
                        wait = await self.seconds_to_next()
                        if wait <= MIN_WAIT:  # something is free to claim now
                            await self.deliver_due()
                            wait = await self.seconds_to_next()
                        look_at = clock() + wait
                except Exception as error:  # the database's trouble: try again at the next look
                    log_failure(log, "the delivery worker's pass", error)
                    look_at = clock() + every
                if self._look or self._retry_at is not None:
                    continue
                try:
                    async with asyncio.timeout(max(0.0, look_at - clock())):
                        await bell.wait()
                except TimeoutError:
                    pass
        finally:
            self._bell = None
            if self._handed:  # cancelled: each gives its leases back (_send_and_record)
                await asyncio.gather(*self._handed, return_exceptions=True)
            if self._flushing is not None:
                self._flushing.cancel()
            await self.flush()  # what was sent is recorded now, not sent again after a restart


@dataclass(frozen=True, slots=True)
class _Recorded:
    """What recording tries leaves in the log: nothing (the ``Written`` of the writer)."""

    events: list[schemas.Event] = field(default_factory=list)
    roots: Mapping[str, bytes] = field(default_factory=dict)


def _record_in(
    batch: Batch, *, tries: Sequence[dict[str, Any]], states: Sequence[dict[str, Any]]
) -> _Recorded:
    batch.record_tries(tries, states)
    return _Recorded()
