"""The right edge of each channel's tree, remembered between commands (``RightEdges``).

A command reads its channel's head under the channel's lock and appends from the edge
this process remembered, if it has that size; otherwise it reads the edge from the
database. These tests watch the statements a real database is sent, and check every
root against ``merkle.root_hash`` of the events as served.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from client.protocol import merkle
from client.protocol.log import CompactRange, event_hash
from client.protocol.vocabulary import Decision, Role
from server.domain import rules
from server.domain.model import Actor, NoticeContent
from server.service import commands, demo
from server.store.db import Database
from server.store.repository import Repository
from server.store.tree import RightEdges, TreeStore

ANA = Actor("water", "ana", Role.OPERATOR)
CARLA = Actor("roads", "carla", Role.OPERATOR)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database's engine runs inside the block, upper-cased."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def tree_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and "LOG_NODES" in s]


def tree_writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("INSERT INTO LOG_NODES")]


async def send(db: Database, subject: str = "Hydrant test, Mill Lane") -> commands.Outcome:
    command = rules.SendNotice(uuid.uuid4(), NoticeContent(subject=subject))
    return await commands.execute(db, command, channel_id=demo.CHANNEL, actor=ANA)


async def acknowledge(db: Database, notice_id: uuid.UUID) -> commands.Outcome:
    command = rules.Decide(notice_id, Decision.ACKNOWLEDGED)
    return await commands.execute(db, command, channel_id=demo.CHANNEL, actor=CARLA)


async def served_leaves(db: Database) -> list[bytes]:
    async with db.session() as session:
        events = await Repository(session).log(demo.CHANNEL, after=0, limit=10_000)
    return [event_hash(e.model_dump(mode="json")) for e in events]


async def stored_root(db: Database, size: int) -> bytes:
    async with db.session() as session:
        return await TreeStore(session).root(demo.CHANNEL, size)


async def test_consecutive_commands_append_without_reading_the_tree(db: Database) -> None:
    await demo.seed(db)
    await send(db)  # the first command may read the edge: nothing is remembered yet

    with statements(db) as seen:
        outcomes = [await send(db, f"Hydrant test #{n}") for n in range(4)]
        outcomes.append(await acknowledge(db, outcomes[0].notice.id))

    leaves = await served_leaves(db)
    assert tree_reads(seen) == []
    assert len(tree_writes(seen)) == len(outcomes)  # one INSERT of new subtrees each
    for outcome in outcomes:
        size = outcome.events[-1].seq
        assert outcome.root == merkle.root_hash(leaves[:size])
    assert await stored_root(db, len(leaves)) == merkle.root_hash(leaves)


async def test_another_process_appending_is_seen_by_the_size_and_the_edge_read(
    db: Database,
) -> None:
    await demo.seed(db)
    other = Database(db.url)  # another worker process on the same database
    try:
        first = await send(db)
        await send(other)  # a wrong edge, if used, would fold this event out of the tree
        await send(other)
        assert db.tree_edges.get(demo.CHANNEL, first.events[-1].seq) is not None

        with statements(db) as seen:
            mine = await acknowledge(db, first.notice.id)
        theirs = await send(other)
    finally:
        await other.dispose()

    leaves = await served_leaves(db)
    assert len(tree_reads(seen)) == 1  # the remembered edge had the wrong size
    assert mine.root == merkle.root_hash(leaves[: mine.events[-1].seq])
    assert theirs.root == merkle.root_hash(leaves)
    assert await stored_root(db, len(leaves)) == merkle.root_hash(leaves)


async def test_a_transaction_that_fails_after_growing_the_tree_leaves_no_edge_behind(
    db: Database,
) -> None:
    await demo.seed(db)
    before = await send(db)
    size = before.events[-1].seq

    def fail_on_notice_insert(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NOTICES"):
            raise RuntimeError("the disk is full")

    event.listen(db.engine.sync_engine, "before_cursor_execute", fail_on_notice_insert)
    try:
        with pytest.raises(RuntimeError, match="the disk is full"):
            await send(db, "Never stored")  # its log rows and subtrees were written first
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", fail_on_notice_insert)

    assert db.tree_edges.get(demo.CHANNEL, size + 1) is None
    # Had it remembered the failed tree's edge, this process would take it for the tree
    # of the event another process now appends in its place, and fold in the wrong leaf.
    other = Database(db.url)
    try:
        theirs = await send(other, "Stored instead")
    finally:
        await other.dispose()
    mine = await send(db, "And then this one")
    leaves = await served_leaves(db)
    assert theirs.events[-1].seq == size + 1
    assert mine.events[-1].seq == size + 2 == len(leaves)
    assert mine.root == merkle.root_hash(leaves)
    assert await stored_root(db, len(leaves)) == merkle.root_hash(leaves)


def test_a_remembered_edge_is_handed_out_as_a_copy_and_only_at_its_size() -> None:
    edges = RightEdges(remember=2)
    leaves = [bytes([n]) * 32 for n in range(3)]
    edge, expected = CompactRange(), CompactRange()
    edge.extend(leaves)
    expected.extend(leaves)
    edges.remember("a", edge)
    edge.append(bytes(32))  # the caller's range grows on: the remembered one does not

    found = edges.get("a", 3)
    assert found == expected
    assert found is not None
    found.append(bytes(32))
    assert edges.get("a", 4) is None
    assert edges.get("a", 3) is not None
    assert edges.get("b", 0) is None

    edges.remember("b", CompactRange())
    edges.remember("c", CompactRange())  # beyond two: the least recently remembered goes
    assert edges.get("a", 3) is None
    assert edges.get("b", 0) is not None
    assert edges.get("c", 0) is not None
