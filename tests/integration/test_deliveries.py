"""The outbox on a real database: written with the events, sent by the worker, tried again.

Each test runs on SQLite and on PostgreSQL. The app runs on a hand-moved clock without its
lifespan (``tests/integration/clocked.py``), so its own delivery worker never runs: each
test makes the :class:`Deliverer` it wants, with hand-written senders that answer as told,
and calls its pass (``deliver_due``) at the moments it chooses. Nobody sleeps.

The channel's webhook subscriptions are written straight into ``channels.webhooks``, the
column the writer reads under the channel's lock: the subscriptions' own rows and REST API
are another module's business (``tests/integration/test_webhooks*.py``).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, update

from client.protocol.times import parse_time, to_millisecond
from server.app import create_app
from server.config import Settings
from server.domain.model import Policy
from server.domain.outbox import DeliveryKind, MailSwitch, delivery_id, retry_delay
from server.domain.policy import policy_wire
from server.metrics import Metrics
from server.service import demo
from server.service.deliveries import Deliverer, Outgoing, Sent
from server.store import outbox
from server.store.db import Database
from server.store.models import ChannelRow, DeliveryAttemptRow, DeliveryRow
from tests.integration.clocked import START, Line, clocked
from tests.integration.conftest import Api

MS = timedelta(milliseconds=1)
BASE = timedelta(seconds=2)
CAP = timedelta(seconds=60)
LEASE = timedelta(seconds=30)
TRIES = 4
HOOK = "0196a3e2-0000-7000-8000-00000000a001"
OTHER_HOOK = "0196a3e2-0000-7000-8000-00000000a002"
WAIT = 10.0
"""Seconds a test waits for the app's own worker."""


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    """Four tries, two seconds' back-off doubling up to a minute, thirty seconds' lease."""
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        delivery_attempts=TRIES,
        delivery_backoff_seconds=BASE.total_seconds(),
        delivery_backoff_max_seconds=CAP.total_seconds(),
        delivery_lease_seconds=LEASE.total_seconds(),
    )


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    async with clocked(db, settings) as line:
        yield line


@dataclass
class Receiver:
    """A sender that records what it is handed and answers with ``answer`` (ok by default)."""

    answer: Callable[[Outgoing], Sent] = lambda _: Sent(ok=True, status_code=204)
    got: list[Outgoing] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, delivery: Outgoing) -> Sent:
        self.got.append(delivery)
        self.arrived.set()
        await asyncio.sleep(0)  # let the other sends of the batch start: they are concurrent
        return self.answer(delivery)


def failing(times: int, *, status: int = 503) -> Callable[[Outgoing], Sent]:
    """Fail the first ``times`` tries of each delivery, then accept."""

    def answer(delivery: Outgoing) -> Sent:
        if delivery.attempt <= times:
            return Sent(ok=False, status_code=status, error=f"HTTP {status}")
        return Sent(ok=True, status_code=200)

    return answer


def worker(line: Line, settings: Settings, rng: int = 1, **senders: Any) -> Deliverer:
    return Deliverer(line.db, senders, settings=settings, metrics=Metrics(), rng=random.Random(rng))


async def subscribe(db: Database, *hooks: tuple[str, str, list[str]]) -> None:
    """Give the demo channel these subscriptions ``(id, party, types)`` as the writer reads them."""
    targets = [{"id": i, "party": p, "types": t} for i, p, t in hooks]
    async with db.session() as session:
        await session.execute(
            update(ChannelRow)
            .where(ChannelRow.id == demo.CHANNEL)
            .values(webhooks=json.dumps(targets))
        )
        await session.commit()


async def send(line: Line, operator: str = "ana", **fields: Any) -> dict[str, Any]:
    response = await line.api.send(operator, **fields)
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def rows(db: Database) -> list[DeliveryRow]:
    async with db.session() as session:
        stmt = select(DeliveryRow).order_by(DeliveryRow.seq, DeliveryRow.kind, DeliveryRow.target)
        return list((await session.scalars(stmt)).all())


async def row(db: Database, delivery: uuid.UUID) -> DeliveryRow:
    async with db.session() as session:
        found = await session.get(DeliveryRow, delivery)
        assert found is not None
        return found


async def attempts(db: Database, delivery: uuid.UUID) -> list[DeliveryAttemptRow]:
    async with db.session() as session:
        stmt = (
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.delivery_id == delivery)
            .order_by(DeliveryAttemptRow.id)
        )
        return list((await session.scalars(stmt)).all())


async def log_seq(api: Api, event_type: str) -> list[int]:
    return [e["seq"] for e in await api.log() if e["type"] == event_type]


def count(metric: Any, **labels: str) -> float:
    return float((metric.labels(**labels) if labels else metric)._value.get())


# -- written with the events -----------------------------------------------------------


async def test_each_event_is_written_to_the_outbox_for_each_subscription_that_wants_it(
    line: Line,
) -> None:
    await subscribe(line.db, (HOOK, "roads", []), (OTHER_HOOK, "water", ["notice.received"]))

    notice = await send(line)
    received = await line.api.act("carla", notice["id"], "receipt")
    assert received.status_code == 200, received.text

    [sent_seq] = await log_seq(line.api, "notice.sent")
    [received_seq] = await log_seq(line.api, "notice.received")
    found = await rows(line.db)
    assert [(r.seq, r.event_type, r.target) for r in found] == [
        (sent_seq, "notice.sent", HOOK),
        (received_seq, "notice.received", HOOK),
        (received_seq, "notice.received", OTHER_HOOK),
    ]
    for r in found:
        at = r.created_at  # the event's time: the batch stamps both
        assert r.id == delivery_id(demo.CHANNEL, r.seq, DeliveryKind.WEBHOOK, r.target, at=at)
        assert (r.kind, r.status, r.attempts, r.leased_until) == ("webhook", "waiting", 0, None)
        assert r.next_attempt_at == r.created_at == START, "due at once, stamped by the batch"


async def test_a_refused_command_writes_nothing_to_the_outbox(line: Line) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    notice = await send(line)
    before = [(r.id, r.status) for r in await rows(line.db)]

    own = await line.api.act("ana", notice["id"], "receipt")  # water cannot receive its own
    again = await line.api.send("ana", id=notice["id"], subject="Another subject, same id")

    assert own.status_code == 403, own.text
    assert again.status_code == 409, again.text
    assert [(r.id, r.status) for r in await rows(line.db)] == before


async def test_mail_is_written_only_where_this_server_mails(line: Line, db: Database) -> None:
    # No SMTP server in these settings: the app left the writer's mail switch off.
    assert db.writer.mail is None
    db.writer.mail = MailSwitch(offline_after=timedelta(minutes=1))
    try:
        await _escalate(line)
    finally:
        db.writer.mail = None

    mails = [r for r in await rows(db) if r.kind == "mail"]
    assert [(r.event_type, r.target) for r in mails] == [("notice.escalated", "operator:dev")]


async def _escalate(line: Line) -> None:
    """Escalate an urgent notice of water's to dev, of roads (its admins agree to that first)."""
    proposal = str(uuid.uuid4())
    proposals = f"/api/v1/channels/{demo.CHANNEL}/policy/proposals"
    wire = policy_wire(Policy(escalate_to={"roads": ("dev",)}))
    body = {"id": proposal, "policy": wire, "lapses_in_seconds": 3600}
    proposed = await line.api.post("wanda", proposals, body)
    assert proposed.status_code == 201, proposed.text
    accepted = await line.api.post("raj", f"{proposals}/{proposal}/accept")
    assert accepted.status_code == 200, accepted.text
    notice = await send(line, priority="urgent")
    fired = await line.fire_at(parse_time(notice["ack_due_at"]) + timedelta(days=1))
    assert "notice.escalated" in [e["type"] for e in fired]


# -- sent by the worker ----------------------------------------------------------------


async def test_the_worker_sends_each_due_delivery_once_and_records_it(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    await send(line)
    receiver = Receiver()
    deliverer = worker(line, settings, webhook=receiver)

    first = await deliverer.deliver_due()
    second = await deliverer.deliver_due()

    found = await rows(line.db)
    assert sorted(d.id for d in receiver.got) == sorted(r.id for r in found)
    assert [(d.kind, d.channel, d.target, d.attempt) for d in receiver.got] == [
        ("webhook", demo.CHANNEL, HOOK, 1)
    ] * 2
    assert [o.status for o in first] == ["delivered", "delivered"]
    assert second == []
    for r in found:
        assert (r.status, r.attempts, r.leased_until, r.last_error) == ("delivered", 1, None, None)
        assert r.finished_at == START
        [attempt] = await attempts(line.db, r.id)
        assert (attempt.ok, attempt.status_code, attempt.at) == (True, 204, START)
    assert deliverer.metrics is not None
    assert count(deliverer.metrics.deliveries_sent, kind="webhook") == 2
    await deliverer.seconds_to_next()
    assert count(deliverer.metrics.deliveries_waiting) == 0


async def test_a_failed_delivery_is_tried_again_on_the_back_off_schedule_until_accepted(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    receiver = Receiver(failing(3))
    deliverer = worker(line, settings, rng=7, webhook=receiver)
    expected = random.Random(7)

    [first] = await deliverer.deliver_due()
    due = START
    for attempt in (1, 2, 3):
        wait = retry_delay(attempt, base=BASE, cap=CAP, rng=expected)
        due = to_millisecond(due + wait)
        r = await row(line.db, first.id)
        assert (r.status, r.attempts, r.next_attempt_at) == ("waiting", attempt, due)
        assert r.last_error == "HTTP 503"
        line.clock.set(due - MS)
        assert await deliverer.deliver_due() == [], "never before its time"
        line.clock.set(due)
        [tried] = await deliverer.deliver_due()
        assert tried.attempt == attempt + 1

    r = await row(line.db, first.id)
    assert (r.status, r.attempts, r.finished_at, r.last_error) == ("delivered", 4, due, None)
    tries = await attempts(line.db, first.id)
    assert [(a.ok, a.status_code) for a in tries] == [(False, 503)] * 3 + [(True, 200)]
    assert [d.id for d in receiver.got] == [first.id] * 4, "the same id every time"
    assert deliverer.metrics is not None
    assert count(deliverer.metrics.deliveries_retried, kind="webhook") == 3
    assert count(deliverer.metrics.deliveries_sent, kind="webhook") == 1


async def test_a_delivery_that_keeps_failing_is_given_up_after_its_last_try(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    deliverer = worker(line, settings, webhook=Receiver(failing(99)))

    for _ in range(TRIES):
        line.clock.advance(CAP)  # past any wait
        await deliverer.deliver_due()
    line.clock.advance(CAP)

    assert await deliverer.deliver_due() == []
    [r] = await rows(line.db)
    assert (r.status, r.attempts, r.last_error) == ("failed", TRIES, "HTTP 503")
    assert r.finished_at is not None
    assert len(await attempts(line.db, r.id)) == TRIES
    assert deliverer.metrics is not None
    assert count(deliverer.metrics.deliveries_failed, kind="webhook") == 1
    assert count(deliverer.metrics.deliveries_retried, kind="webhook") == TRIES - 1


async def test_a_permanent_refusal_is_not_tried_again_and_a_skip_is_not_a_failure(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []), (OTHER_HOOK, "water", []))
    await send(line)

    def answer(delivery: Outgoing) -> Sent:
        if delivery.target == HOOK:
            return Sent(ok=False, status_code=410, error="HTTP 410 Gone", permanent=True)
        return Sent(ok=True, skipped=True, error="nobody to send it to")

    deliverer = worker(line, settings, webhook=Receiver(answer))
    await deliverer.deliver_due()

    statuses = {r.target: (r.status, r.last_error) for r in await rows(line.db)}
    assert statuses == {
        HOOK: ("failed", "HTTP 410 Gone"),
        OTHER_HOOK: ("skipped", "nobody to send it to"),
    }
    assert deliverer.metrics is not None
    assert count(deliverer.metrics.deliveries_failed, kind="webhook") == 1
    assert count(deliverer.metrics.deliveries_skipped, kind="webhook") == 1


async def test_a_sender_that_raises_is_a_failed_try_and_the_others_of_the_batch_go_out(
    line: Line, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(line.db, (HOOK, "roads", []), (OTHER_HOOK, "water", []))
    await send(line)

    def answer(delivery: Outgoing) -> Sent:
        if delivery.target == HOOK:
            raise RuntimeError("a bug in the sender")
        return Sent(ok=True, status_code=200)

    deliverer = worker(line, settings, webhook=Receiver(answer))
    await deliverer.deliver_due()

    statuses = {r.target: (r.status, r.last_error) for r in await rows(line.db)}
    assert statuses == {
        HOOK: ("waiting", "the webhook sender failed: RuntimeError"),
        OTHER_HOOK: ("delivered", None),
    }
    assert "a delivery's sender failed" in caplog.text


async def test_a_sender_that_outlasts_the_lease_is_a_failed_try(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)

    class Hanging:
        async def send(self, delivery: Outgoing) -> Sent:
            await asyncio.Event().wait()  # never answers
            raise AssertionError("unreachable")

    short = settings.model_copy(update={"delivery_lease_seconds": 0.2})
    deliverer = worker(line, short, webhook=Hanging())
    async with asyncio.timeout(WAIT):
        [tried] = await deliverer.deliver_due()

    assert (tried.status, tried.error) == (
        "waiting",
        "took longer than the delivery's lease allows",
    )


async def test_rows_of_a_kind_this_process_cannot_send_are_left_for_another(
    line: Line, settings: Settings, db: Database
) -> None:
    await subscribe(db, (HOOK, "roads", []))
    db.writer.mail = MailSwitch(offline_after=timedelta(minutes=1))
    try:
        await _escalate(line)
    finally:
        db.writer.mail = None
    webhooks_only = worker(line, settings, webhook=Receiver())

    await webhooks_only.deliver_due()

    left = [(r.kind, r.status) for r in await rows(db) if r.status != "delivered"]
    assert left == [("mail", "waiting")], "the mail waits for a process that can send it"
    mail = Receiver()
    await worker(line, settings, mail=mail).deliver_due()
    assert [d.target for d in mail.got] == ["operator:dev"]


# -- leases ----------------------------------------------------------------------------


async def test_a_leased_delivery_is_left_alone_until_the_lease_is_over(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    # A process claims the delivery, and dies before it records anything.
    async with line.db.engine.begin() as connection:
        [held] = await outbox.claim(
            connection, now=START, until=START + LEASE, limit=10, kinds={"webhook"}
        )
    receiver = Receiver()
    deliverer = worker(line, settings, webhook=receiver)

    assert await deliverer.deliver_due() == []
    assert await deliverer.seconds_to_next() == settings.delivery_check_seconds
    line.clock.set(START + LEASE - MS)
    assert await deliverer.deliver_due() == []
    line.clock.set(START + LEASE)
    [tried] = await deliverer.deliver_due()

    assert tried.id == held.id
    assert [(d.id, d.attempt) for d in receiver.got] == [(held.id, 2)], "the lost try counts"
    r = await row(line.db, held.id)
    assert (r.status, r.attempts, r.leased_until) == ("delivered", 2, None)


async def test_a_record_from_a_lease_that_ran_out_changes_nothing_but_keeps_the_try(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    async with line.db.engine.begin() as connection:
        [slow] = await outbox.claim(
            connection, now=START, until=START + LEASE, limit=10, kinds={"webhook"}
        )
    line.clock.set(START + LEASE)
    await worker(line, settings, webhook=Receiver()).deliver_due()  # another process

    late = outbox.Outcome(
        id=slow.id,
        attempt=slow.attempt,
        at=START,
        ok=False,
        status_code=None,
        error="timed out",
        duration_ms=31_000,
        status="waiting",
        next_attempt_at=START + CAP,
    )
    async with line.db.engine.begin() as connection:
        await outbox.record(connection, [late], now=START + LEASE)

    r = await row(line.db, slow.id)
    assert (r.status, r.attempts, r.last_error) == ("delivered", 2, None)
    assert [a.ok for a in await attempts(line.db, slow.id)] == [True, False]


async def test_the_next_look_is_when_the_next_delivery_is_due(
    line: Line, settings: Settings
) -> None:
    await subscribe(line.db, (HOOK, "roads", []))
    await send(line)
    slow = settings.model_copy(update={"delivery_check_seconds": 3600.0})
    deliverer = worker(line, slow, rng=3, webhook=Receiver(failing(1)))

    [tried] = await deliverer.deliver_due()
    assert tried.next_attempt_at is not None
    wait = await deliverer.seconds_to_next()

    assert wait == pytest.approx((tried.next_attempt_at - START).total_seconds())
    assert deliverer.metrics is not None
    assert count(deliverer.metrics.deliveries_waiting) == 1


async def test_two_workers_on_one_database_send_each_delivery_once(
    line: Line, settings: Settings, database_url: str
) -> None:
    await subscribe(line.db, (HOOK, "roads", []), (OTHER_HOOK, "water", []))
    for _ in range(60):
        await send(line)
    expected = {r.id for r in await rows(line.db)}
    assert len(expected) == 120
    other_db = Database(database_url)  # another process's engine
    other_db.clock = line.clock
    try:
        one, two = Receiver(), Receiver()
        small = {"settings": settings, "metrics": Metrics(), "batch": 7, "concurrency": 3}
        first = Deliverer(line.db, {"webhook": one}, **small)  # type: ignore[arg-type]
        second = Deliverer(other_db, {"webhook": two}, **small)  # type: ignore[arg-type]
        async with asyncio.timeout(60):
            await asyncio.gather(first.deliver_due(), second.deliver_due())
    finally:
        await other_db.dispose()

    sent = [d.id for d in one.got + two.got]
    assert sorted(sent) == sorted(expected), "each delivery sent once, none left out"
    if database_url.startswith("postgresql"):
        # SKIP LOCKED lets both claim at once. On SQLite a claim holds the one write lock,
        # and a worker may well empty the outbox before the other's first claim: fine.
        assert one.got, "both workers took a share"
        assert two.got, "both workers took a share"
    async with line.db.session() as session:
        tries = await session.scalar(select(func.count()).select_from(DeliveryAttemptRow))
    assert tries == 120
    assert {r.status for r in await rows(line.db)} == {"delivered"}


# -- the app's own worker --------------------------------------------------------------


async def test_the_apps_worker_sends_at_once_when_a_delivery_is_committed(
    db: Database, settings: Settings
) -> None:
    operators = await demo.seed(db)
    await subscribe(db, (HOOK, "roads", []))
    quiet = settings.model_copy(update={"delivery_check_seconds": 3600.0})  # only the doorbell
    app = create_app(quiet, db=db)
    receiver = Receiver()
    deliverer: Deliverer = app.state.deliverer
    deliverer.senders["webhook"] = receiver
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
            api = Api(c, {o.id: o.token for o in operators})
            response = await api.send("ana")
            assert response.status_code == 201, response.text
            async with asyncio.timeout(WAIT):
                await receiver.arrived.wait()
        # Leaving the lifespan lets the worker finish the batch it is sending: recorded.

    [r] = await rows(db)
    assert [d.id for d in receiver.got] == [r.id]
    assert (r.status, r.attempts) == ("delivered", 1)
    assert count(app.state.metrics.deliveries_sent, kind="webhook") == 1


async def test_a_worker_stopped_before_it_ran_returns_at_once(
    line: Line, settings: Settings
) -> None:
    deliverer = worker(line, settings, webhook=Receiver())
    deliverer.stop()  # a server stopped as it started

    async with asyncio.timeout(WAIT):
        await deliverer.run()
