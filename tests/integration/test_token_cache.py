"""Each process remembers who a token is, and forgets the moment the access counter moves.

Runs on SQLite and PostgreSQL. A second ``Database`` on the same URL stands for another
process, such as ``hotline admin token revoke`` or a second server: it shares nothing
with the first but the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text

from client.protocol.vocabulary import Role
from server.service import access, admin
from server.store.access_counter import access_counter
from server.store.db import Database
from server.store.identities import IdentityCache
from server.store.migrate import alembic_config

WAIT = 10.0  # seconds: a bound on each wait


@asynccontextmanager
async def another_process(database_url: str) -> AsyncIterator[Database]:
    """A second ``Database`` on the same database, as another process would open."""
    other = Database(database_url)
    try:
        yield other
    finally:
        await other.dispose()


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements ``db``'s engine runs inside the block."""
    run: list[str] = []

    def count(*args: Any) -> None:
        run.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield run
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def migrate(db: Database, direction: Callable[[Config, str], None], revision: str) -> None:
    """Run Alembic's ``upgrade`` or ``downgrade`` to ``revision``."""

    def run(connection: Connection) -> None:
        direction(alembic_config(connection), revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


@pytest.fixture
async def ana(db: Database) -> tuple[uuid.UUID, str]:
    """Operator ana of party water, with one token: its id and the token."""
    await admin.create_party(db, "water", name="Riverside Water")
    await admin.create_operator(db, "ana", party="water", name="Ana Lopez")
    return await access.issue_token(db, "ana", label="laptop")


async def test_a_remembered_token_is_checked_without_a_query_through_the_engine(
    db: Database, ana: tuple[uuid.UUID, str]
) -> None:
    _, token = ana
    first = await access.authenticate(db, token)

    with statements(db) as run:
        again = [await access.authenticate(db, token) for _ in range(3)]

    assert first is not None
    assert first.actor.operator == "ana"
    assert again == [first] * 3
    assert run == []


async def test_a_token_revoked_by_another_process_is_refused_on_the_very_next_call(
    db: Database, ana: tuple[uuid.UUID, str], database_url: str
) -> None:
    token_id, token = ana
    _, phone = await access.issue_token(db, "ana", label="phone")
    assert await access.authenticate(db, token) is not None  # remembered from here on
    assert await access.authenticate(db, phone) is not None

    async with another_process(database_url) as admin_process:
        assert await access.revoke(admin_process, token_id=token_id) == 1

    assert await access.authenticate(db, token) is None
    assert await access.authenticate(db, token) is None  # and stays refused
    # The operator's other token still works, looked up afresh.
    identity = await access.authenticate(db, phone)
    assert identity is not None
    assert identity.actor.operator == "ana"


async def test_a_token_issued_by_another_process_works_at_once(
    db: Database, ana: tuple[uuid.UUID, str], database_url: str
) -> None:
    assert await access.authenticate(db, ana[1]) is not None

    async with another_process(database_url) as admin_process:
        _, fresh = await access.issue_token(admin_process, "ana", label="tablet")

    identity = await access.authenticate(db, fresh)
    assert identity is not None
    assert identity.actor.operator == "ana"


async def test_a_change_made_by_hand_in_sql_is_seen_on_the_next_call(
    db: Database, ana: tuple[uuid.UUID, str], database_url: str
) -> None:
    # The counter is moved by triggers, not by Hotline's code: a person at a SQL prompt
    # who demotes an operator, or deletes a token, is seen as soon as the admin command is.
    _, token = ana
    _, phone = await access.issue_token(db, "ana", label="phone")
    assert await access.authenticate(db, token) is not None
    assert await access.authenticate(db, phone) is not None

    async with another_process(database_url) as other, other.engine.begin() as connection:
        await connection.execute(text("UPDATE operators SET role = 'observer' WHERE id = 'ana'"))
    demoted = await access.authenticate(db, token)

    async with another_process(database_url) as other, other.engine.begin() as connection:
        await connection.execute(text("DELETE FROM tokens WHERE label = 'phone'"))
    deleted = await access.authenticate(db, phone)

    assert demoted is not None
    assert demoted.actor.role is Role.OBSERVER
    assert deleted is None


async def test_issuing_and_revoking_move_the_counter_when_they_commit(
    db: Database, ana: tuple[uuid.UUID, str]
) -> None:
    counter = access_counter(db.engine)
    try:
        before = await counter.read()
        await access.issue_token(db, "ana", label="demo")
        await access.issue_token(db, "ana", label="demo")
        issued = await counter.read()
        async with db.session() as session:
            await session.execute(text("UPDATE tokens SET revoked_at = created_at"))
            uncommitted = await counter.read()
            await session.rollback()
        rolled_back = await counter.read()
        assert await access.revoke(db, label="demo") == 2
        revoked = await counter.read()
    finally:
        await counter.close()

    assert before is not None
    assert issued is not None
    assert revoked is not None
    assert before < issued == uncommitted == rolled_back < revoked


async def test_made_up_tokens_never_push_out_an_operators_token(
    db: Database, ana: tuple[uuid.UUID, str]
) -> None:
    cache = IdentityCache(db, known=2, unknown=5)
    try:
        token_hash = access.hash_token(ana[1])
        known = await cache.identity(token_hash)
        for _ in range(50):
            guess = access.hash_token(access.TOKEN_PREFIX + uuid.uuid4().hex)
            assert await cache.identity(guess) is None

        with statements(db) as run:
            again = await cache.identity(token_hash)
        remembered = len(cache)
    finally:
        await cache.close()

    assert known is not None
    assert again == known
    assert run == []
    assert remembered == 1 + 5  # the operator's token, and the five latest guesses


async def test_without_the_counter_every_call_asks_the_database(
    db: Database, ana: tuple[uuid.UUID, str]
) -> None:
    # A database not yet at revision 0005 has no counter: nothing may be trusted from
    # memory, and a revocation still takes effect at once.
    token_id, token = ana
    await migrate(db, command.downgrade, "0004")
    # This version reads operators.email (revision 0007) with the identity: the column
    # stands in for the revisions after 0005, the counter's, which is what is missing here.
    async with db.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE operators ADD COLUMN email TEXT"))
    try:
        assert await access.authenticate(db, token) is not None
        with statements(db) as run:
            assert await access.authenticate(db, token) is not None
        assert run != []
        assert await access.revoke(db, token_id=token_id) == 1
        assert await access.authenticate(db, token) is None
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE operators DROP COLUMN email"))
        await migrate(db, command.upgrade, "head")
    assert await access.authenticate(db, token) is None


async def test_concurrent_calls_each_see_a_revocation_committed_before_they_began(
    db: Database, ana: tuple[uuid.UUID, str], database_url: str
) -> None:
    # On PostgreSQL concurrent calls share counter reads: a call that arrives while a read
    # is on the wire must wait for the next one, never take the older answer.
    token_id, token = ana
    assert await access.authenticate(db, token) is not None
    early = [asyncio.create_task(access.authenticate(db, token)) for _ in range(20)]
    await asyncio.sleep(0)  # the first read is on its way

    async with another_process(database_url) as admin_process:
        assert await access.revoke(admin_process, token_id=token_id) == 1
    late = [access.authenticate(db, token) for _ in range(20)]

    async with asyncio.timeout(WAIT):
        await asyncio.gather(*early)
        answers = await asyncio.gather(*late)
    assert answers == [None] * 20
