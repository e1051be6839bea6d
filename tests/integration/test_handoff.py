"""The writer hands its deliveries to the worker, and the worker never tries for ever.

On both databases: what this process commits is leased to its worker as it is written
and sent without a claim; a slow receiver holds up nobody else's deliveries; rows handed
over as the worker stops are given back untried; a row every try of which was claimed and
never reported back is given up, not claimed again for ever; a row whose turn comes too
late in its lease is given back untried.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from server.config import Settings
from server.service.deliveries import Outgoing, Sent
from server.store import outbox
from server.store.models import DeliveryRow
from tests.integration.clocked import START, Line
from tests.integration.test_deliveries import (
    HOOK,
    LEASE,
    OTHER_HOOK,
    TRIES,
    Receiver,
    line,
    row,
    rows,
    send,
    settings,
    subscribe,
    worker,
)

__all__ = ["line", "settings"]  # the fixtures, shared with test_deliveries

WAIT = 10.0
"""Seconds a test waits for the worker at most."""


async def delivered(line: Line, count: int) -> list[DeliveryRow]:
    """Wait until ``count`` deliveries are delivered; return them all."""
    async with asyncio.timeout(WAIT):
        while True:
            found = await rows(line.db)
            if sum(r.status == "delivered" for r in found) >= count:
                return found
            await asyncio.sleep(0.01)


async def test_what_the_writer_commits_is_handed_over_leased_and_sent_without_a_claim(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    receiver = Receiver()
    deliverer = worker(line, settings, webhook=receiver)
    running = asyncio.create_task(deliverer.run())
    try:
        await asyncio.sleep(0)  # the worker starts: it is ready at its first await
        assert deliverer.handoff is not None
        line.db.writer.courier = deliverer
        await send(line)
        [sent] = await delivered(line, 1)
    finally:
        line.db.writer.courier = None
        deliverer.stop()
        await running

    assert [(d.id, d.attempt) for d in receiver.got] == [(sent.id, 1)]
    assert (sent.attempts, sent.leased_until) == (1, None)


async def test_a_slow_receiver_holds_up_nobody_elses_deliveries(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []), (OTHER_HOOK, "water", []))
    released = asyncio.Event()

    class Slow(Receiver):
        async def send(self, delivery: Outgoing) -> Sent:
            if delivery.target == HOOK:
                await released.wait()  # roads' receiver hangs until the test lets it go
            return await super().send(delivery)

    receiver = Slow()
    deliverer = worker(line, settings, webhook=receiver)
    running = asyncio.create_task(deliverer.run())
    try:
        await asyncio.sleep(0)
        assert deliverer.handoff is not None
        line.db.writer.courier = deliverer
        await send(line)
        await send(line)
        # Water's two deliveries arrive while roads' first is still hanging.
        found = await delivered(line, 2)
        assert {r.target for r in found if r.status == "delivered"} == {OTHER_HOOK}
        released.set()
        await delivered(line, 4)
    finally:
        released.set()
        line.db.writer.courier = None
        deliverer.stop()
        await running


async def test_deliveries_handed_over_as_the_worker_stops_are_given_back_untried(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    deliverer = worker(line, settings, webhook=Receiver())
    await send(line)
    [waiting] = await rows(line.db)
    # Leased to the worker as written (try 1), but it stopped before the hand-over.
    async with line.db.engine.begin() as connection:
        [claimed] = await outbox.claim(
            connection, now=START, until=START + LEASE, limit=1, kinds={"webhook"}
        )
    deliverer.take([claimed])
    async with asyncio.timeout(WAIT):
        while (await row(line.db, waiting.id)).leased_until is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the release is a task of its own: no event says so

    r = await row(line.db, waiting.id)
    assert (r.status, r.attempts, r.leased_until) == ("waiting", 0, None), "untried"


async def test_a_delivery_whose_every_try_went_unreported_is_given_up(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    [waiting] = await rows(line.db)
    # Each try kills the process that sends it: claimed, never recorded, lease over.
    now = START
    for _ in range(TRIES):
        async with line.db.engine.begin() as connection:
            await outbox.claim(
                connection, now=now, until=now + LEASE, limit=1, kinds={"webhook"}, most=TRIES
            )
        now += LEASE
    line.clock.set(now)
    receiver = Receiver()

    assert await worker(line, settings, webhook=receiver).deliver_due() == []

    assert receiver.got == [], "not claimed a fifth time"
    r = await row(line.db, waiting.id)
    assert (r.status, r.attempts, r.leased_until) == ("failed", TRIES, None)
    assert r.last_error is not None
    assert "never reported" in r.last_error


async def test_a_row_whose_turn_comes_too_late_in_its_lease_is_given_back_untried(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    [waiting] = await rows(line.db)
    async with line.db.engine.begin() as connection:
        [claimed] = await outbox.claim(
            connection, now=START, until=START + LEASE, limit=1, kinds={"webhook"}
        )
    receiver = Receiver()
    deliverer = worker(line, settings, webhook=receiver)
    # Its sends had to be done by now: none may begin.
    late = asyncio.get_running_loop().time()

    assert await deliverer._send_and_record([claimed], late) == []

    assert receiver.got == []
    r = await row(line.db, waiting.id)
    assert (r.status, r.attempts, r.leased_until) == ("waiting", 0, None)
    async with line.db.session() as session:
        assert (await session.scalar(select(DeliveryRow.attempts))) == 0


async def test_a_late_look_at_a_lease_that_waited_for_its_claim_counts_from_the_lease(
    line: Line, settings: Settings
) -> None:
    # The claim's deadline is counted from the lease's end: a clock that moved on while
    # the claim waited leaves less time to send, never more.
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    deliverer = worker(line, settings, webhook=Receiver())
    before = asyncio.get_running_loop().time()
    claimed, deadline = await deliverer._claim()
    assert len(claimed) == 1
    assert deadline <= before + 0.9 * LEASE.total_seconds() + 0.5
    assert deadline > before + timedelta(seconds=1).total_seconds()
