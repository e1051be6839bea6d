"""What a webhook call reads (``server/store/webhook_calls.py``), on SQLite and PostgreSQL.

The side connection must read what the rest of the server reads (the subscription as
``Reach`` returns it, the event as the API serves it), see every change committed before
the read, and, when it breaks, let the pool answer and be opened again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import pytest

from client.protocol.vocabulary import Role
from server.domain.model import Actor, NoticeContent
from server.domain.rules import SendNotice
from server.secrets import SecretBox
from server.service import commands, demo, webhooks
from server.service.destinations import Guard
from server.store import migrate
from server.store.db import Database
from server.store.reach import Reach
from server.store.repository import Repository
from server.store.webhook_calls import WebhookCalls

WANDA = Actor(party="water", operator="wanda", role=Role.ADMIN)
ANA = Actor(party="water", operator="ana", role=Role.OPERATOR)
GUARD = Guard(allow=(ip_network("127.0.0.0/8"),))


@pytest.fixture
async def reads(db: Database) -> AsyncIterator[WebhookCalls]:
    await demo.seed(db)
    calls = WebhookCalls(db.engine)
    yield calls
    await calls.close()


async def subscribe_and_send(db: Database, tmp_path: Path) -> tuple[uuid.UUID, int]:
    """A subscription of water's and a notice sent: the subscription's id and the event's seq."""
    box = SecretBox.load_or_create(tmp_path / "secrets.key")
    created = await webhooks.subscribe(
        db, box, GUARD, WANDA, demo.CHANNEL, url="http://127.0.0.1:9/in"
    )
    content = NoticeContent(subject="Water main renewal, Mill Lane")
    await commands.execute(
        db, SendNotice(uuid.uuid4(), content), channel_id=demo.CHANNEL, actor=ANA
    )
    async with db.session() as session:
        [event] = (await Repository(session).log(demo.CHANNEL, after=0, limit=1000))[-1:]
    return created.id, event.seq


async def test_a_call_reads_the_subscription_and_the_event_as_the_server_does(
    db: Database, reads: WebhookCalls, tmp_path: Path
) -> None:
    webhook_id, seq = await subscribe_and_send(db, tmp_path)

    webhook, event = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)

    async with db.session() as session:
        assert webhook == await Reach(session).webhook(webhook_id)
        assert [event] == await Repository(session).log(demo.CHANNEL, after=seq - 1, limit=1)
    assert event is not None
    assert event.type == "notice.sent"


async def test_each_read_sees_what_was_committed_before_it(
    db: Database, reads: WebhookCalls, tmp_path: Path
) -> None:
    webhook_id, seq = await subscribe_and_send(db, tmp_path)
    before, _ = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)

    await webhooks.change(db, GUARD, WANDA, demo.CHANNEL, webhook_id, enabled=False)
    after, _ = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)

    assert before is not None
    assert before.enabled is True
    assert after is not None
    assert after.enabled is False


async def test_an_event_or_a_subscription_that_is_not_there_reads_as_none(
    db: Database, reads: WebhookCalls, tmp_path: Path
) -> None:
    webhook_id, seq = await subscribe_and_send(db, tmp_path)

    webhook, no_event = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq + 1000)
    nothing = await reads.read(uuid.uuid4(), channel=demo.CHANNEL, seq=seq)

    assert webhook is not None
    assert no_event is None
    assert nothing == (None, None)


async def break_side_connection(db: Database, reads: WebhookCalls) -> None:
    """Break the side connection under the reader, as a closed file handle would."""
    side = reads._side
    assert side is not None
    assert side._connection is not None
    side._connection.close()


async def test_a_broken_side_connection_leaves_the_read_to_the_pool_and_is_opened_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Only SQLite reads on the side (PostgreSQL reads through the pool): a file of its own.
    db = Database(f"sqlite:///{tmp_path / 'side.db'}")
    await migrate.upgrade(db)
    await demo.seed(db)
    reads = WebhookCalls(db.engine)
    try:
        await _read_through_a_broken_side(db, reads, tmp_path, caplog)
    finally:
        await reads.close()
        await db.dispose()


async def _read_through_a_broken_side(
    db: Database, reads: WebhookCalls, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_id, seq = await subscribe_and_send(db, tmp_path)
    first = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)
    await break_side_connection(db, reads)

    with caplog.at_level(logging.DEBUG, logger="server.store.webhook_calls"):
        answered_by_the_pool = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)
        on_the_side_again = await reads.read(webhook_id, channel=demo.CHANNEL, seq=seq)

    assert answered_by_the_pool == first
    assert on_the_side_again == first
    assert [r.message for r in caplog.records] == ["reading on the side failed; asking the pool"]
    assert reads._side is not None
    assert reads._side._connection is not None


async def test_a_database_in_memory_has_no_side_connection_only_the_pool() -> None:
    database = Database("sqlite://")
    try:
        assert WebhookCalls(database.engine)._side is None
    finally:
        await database.dispose()
