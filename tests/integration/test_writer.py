"""The single writer: group commit, one failing command failing alone, and what it remembers.

Every command goes through ``db.writer`` (``server/store/writer.py``). These tests watch
the statements and commits its own engine sends to a real database, and check every root
against ``merkle.root_hash`` of the events as served.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from client.protocol import merkle, schemas
from client.protocol.log import event_hash
from client.protocol.vocabulary import Decision, Priority, Role
from server.clock import ManualClock
from server.domain import rules
from server.domain.errors import AlreadyDecided, NotFound
from server.domain.model import ActivityWindow, Actor, NoticeContent, Policy
from server.service import commands, demo
from server.store.db import Database
from server.store.models import ChannelRow
from server.store.prepared import Prepared
from server.store.repository import Repository, policy_to_json
from server.store.tree import TreeStore

ANA = Actor("water", "ana", Role.OPERATOR)
CARLA = Actor("roads", "carla", Role.OPERATOR)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement and COMMIT the writer sends in the block, upper-cased."""
    seen: list[str] = []
    link = db.writer.link
    fetch, run_many, commit = link.fetch, link.run_many, link.commit

    async def watched_fetch(prepared: Prepared, values: Any) -> Any:
        seen.append(" ".join(prepared.sql.split()).upper())
        return await fetch(prepared, values)

    async def watched_run_many(prepared: Prepared, rows: Any) -> None:
        seen.append(" ".join(prepared.sql.split()).upper())
        await run_many(prepared, rows)

    async def watched_commit() -> None:
        seen.append("COMMIT")
        await commit()

    link.fetch, link.run_many, link.commit = (  # type: ignore[method-assign]
        watched_fetch,
        watched_run_many,
        watched_commit,
    )
    try:
        yield seen
    finally:
        link.fetch, link.run_many, link.commit = fetch, run_many, commit  # type: ignore[method-assign]


@asynccontextmanager
async def poisoned_notices(db: Database) -> AsyncIterator[None]:
    """A trigger that makes the database refuse a notice whose subject starts "Poisoned"."""
    if db.is_sqlite:
        create = [
            "CREATE TRIGGER poison BEFORE INSERT ON notices WHEN NEW.subject LIKE 'Poisoned%' "
            "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        ]
        drop = ["DROP TRIGGER poison"]
    else:
        create = [
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.subject LIKE 'Poisoned%' THEN RAISE EXCEPTION 'the disk is full'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON notices FOR EACH ROW EXECUTE FUNCTION poison()",
        ]
        drop = ["DROP TRIGGER poison ON notices", "DROP FUNCTION poison()"]
    async with db.engine.begin() as connection:
        for statement in create:
            await connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        async with db.engine.begin() as connection:
            for statement in drop:
                await connection.exec_driver_sql(statement)


def tree_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and "LOG_NODES" in s]


def tree_writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("INSERT INTO LOG_NODES")]


def commits(seen: list[str]) -> int:
    return seen.count("COMMIT")


async def send(db: Database, subject: str = "Hydrant test, Mill Lane") -> commands.Outcome:
    command = rules.SendNotice(uuid.uuid4(), NoticeContent(subject=subject))
    return await commands.execute(db, command, channel_id=demo.CHANNEL, actor=ANA)


async def acknowledge(db: Database, notice_id: uuid.UUID) -> commands.Outcome:
    command = rules.Decide(notice_id, Decision.ACKNOWLEDGED)
    return await commands.execute(db, command, channel_id=demo.CHANNEL, actor=CARLA)


async def served(db: Database) -> list[schemas.Event]:
    async with db.session() as session:
        return await Repository(session).log(demo.CHANNEL, after=0, limit=10_000)


async def served_leaves(db: Database) -> list[bytes]:
    return [event_hash(e.model_dump(mode="json")) for e in await served(db)]


async def stored_root(db: Database, size: int) -> bytes:
    async with db.session() as session:
        return await TreeStore(session).root(demo.CHANNEL, size)


async def check_tree(db: Database, outcomes: Sequence[commands.Outcome]) -> None:
    """Each outcome's root is the root of the log up to its last event, as served."""
    leaves = await served_leaves(db)
    for outcome in outcomes:
        assert outcome.root == merkle.root_hash(leaves[: outcome.events[-1].seq])
    assert await stored_root(db, len(leaves)) == merkle.root_hash(leaves)


async def another_process_then_this_one(
    db: Database,
) -> tuple[commands.Outcome, commands.Outcome]:
    """A send by another process on the same database, then one by ``db``; trees checked.

    Had ``db``'s writer remembered a tree edge it should have forgotten, it would take it
    for the tree of the event the other process appended, and fold in the wrong leaf.
    """
    other = Database(db.url)
    try:
        theirs = await send(other, "Stored instead")
    finally:
        await other.dispose()
    mine = await send(db, "And then this one")
    await check_tree(db, [theirs, mine])
    return theirs, mine


async def test_consecutive_commands_append_without_reading_the_tree(db: Database) -> None:
    await demo.seed(db)
    await send(db)  # the first command reads the edge: nothing is remembered yet

    with statements(db) as seen:
        outcomes = [await send(db, f"Hydrant test #{n}") for n in range(4)]
        outcomes.append(await acknowledge(db, outcomes[0].notice.id))

    assert tree_reads(seen) == []
    assert len(tree_writes(seen)) == len(outcomes)  # one INSERT of new subtrees each
    assert commits(seen) == len(outcomes)  # one after another: a batch each
    # The acknowledged notice was remembered from its send: not read again.
    assert not [s for s in seen if s.startswith("SELECT") and "FROM NOTICES" in s][4:]
    await check_tree(db, outcomes)


async def test_commands_waiting_together_are_committed_together(db: Database) -> None:
    await demo.seed(db)
    await send(db)

    with statements(db) as seen:
        outcomes = await asyncio.gather(*(send(db, f"Valve check #{n}") for n in range(40)))

    # All 40 were queued before the writer took the first: at most a few batches.
    assert commits(seen) < len(outcomes)
    assert len(tree_writes(seen)) == commits(seen)
    seqs = sorted(o.events[0].seq for o in outcomes)
    assert seqs == list(range(2, 42))  # gapless, each once
    await check_tree(db, outcomes)


async def test_a_refused_command_fails_alone_and_the_others_in_its_batch_commit(
    db: Database,
) -> None:
    await demo.seed(db)
    first = await send(db)
    await acknowledge(db, first.notice.id)

    results = await asyncio.gather(
        send(db, "Before"),
        acknowledge(db, first.notice.id),  # a second decision: refused
        commands.execute(
            db,
            rules.RecordReceipt(uuid.uuid4()),  # no such notice: refused
            channel_id=demo.CHANNEL,
            actor=CARLA,
        ),
        send(db, "After"),
        return_exceptions=True,
    )

    before, again, missing, after = results
    assert isinstance(again, AlreadyDecided)
    assert isinstance(missing, NotFound)
    assert isinstance(before, commands.Outcome)
    assert isinstance(after, commands.Outcome)
    assert [e.seq for e in await served(db)] == list(range(1, after.events[-1].seq + 1))
    await check_tree(db, [before, after])


async def test_a_command_that_fails_while_written_fails_alone(db: Database) -> None:
    await demo.seed(db)
    before = await send(db)
    size = before.events[-1].seq

    async with poisoned_notices(db):
        results = await asyncio.gather(
            send(db, "Fine #1"), send(db, "Poisoned"), send(db, "Fine #2"), return_exceptions=True
        )

    fine1, poisoned, fine2 = results
    assert isinstance(poisoned, Exception)
    assert "the disk is full" in str(poisoned)
    assert isinstance(fine1, commands.Outcome)
    assert isinstance(fine2, commands.Outcome)
    log = await served(db)
    assert [e.seq for e in log] == [1, 2, 3]  # the failed one left no event, and no gap
    assert size == 1
    assert "Poisoned" not in str([e.data for e in log])
    await check_tree(db, [fine1, fine2])


async def test_another_process_appending_is_seen_by_the_head_and_the_edge_read(
    db: Database,
) -> None:
    await demo.seed(db)
    other = Database(db.url)  # another worker process on the same database
    try:
        first = await send(db)
        await send(other)  # a wrong edge, if used, would fold this event out of the tree
        await send(other)
        assert db.writer.memory.channels[demo.CHANNEL].head == first.events[-1].seq

        with statements(db) as seen:
            mine = await acknowledge(db, first.notice.id)
        theirs = await send(other)
    finally:
        await other.dispose()

    assert len(tree_reads(seen)) == 1  # the remembered head was not the database's
    # And the notice was read again, not taken from memory: the other process may have
    # changed it.
    assert [s for s in seen if s.startswith("SELECT") and "FROM NOTICES" in s]
    await check_tree(db, [mine, theirs])


async def test_a_batch_that_fails_after_growing_the_tree_leaves_nothing_remembered(
    db: Database,
) -> None:
    await demo.seed(db)
    before = await send(db)
    size = before.events[-1].seq

    async with poisoned_notices(db):
        with pytest.raises(Exception, match="the disk is full"):
            await send(db, "Poisoned, never stored")  # its events and subtrees were written first

    assert demo.CHANNEL not in db.writer.memory.channels
    theirs, mine = await another_process_then_this_one(db)
    assert theirs.events[-1].seq == size + 1
    assert mine.events[-1].seq == size + 2


async def test_a_caller_that_stops_waiting_still_gets_its_command_committed_and_published(
    db: Database,
) -> None:
    await demo.seed(db)
    published: list[schemas.Event] = []
    arrived = asyncio.Event()

    class Recording:
        async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
            published.extend(events)
            arrived.set()

    command = rules.SendNotice(uuid.uuid4(), NoticeContent(subject="Gone before the answer"))
    waiting = asyncio.ensure_future(
        commands.execute(db, command, channel_id=demo.CHANNEL, actor=ANA, fanout=Recording())
    )
    await asyncio.sleep(0)  # queued with the writer
    waiting.cancel()
    async with asyncio.timeout(10):
        await arrived.wait()

    assert [e.data["notice"] for e in published] == [str(command.notice_id)]
    assert [e.seq for e in await served(db)] == [1]


async def test_one_batch_publishes_each_channel_once_with_the_root_after_its_last_event(
    db: Database,
) -> None:
    await demo.seed(db)
    runs: list[tuple[list[int], bytes]] = []

    class Recording:
        async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
            runs.append(([e.seq for e in events], root))

    fanout = Recording()
    drafts = [rules.SendNotice(uuid.uuid4(), NoticeContent(subject=f"Main {n}")) for n in range(5)]
    await asyncio.gather(
        *(
            commands.execute(db, d, channel_id=demo.CHANNEL, actor=ANA, fanout=fanout)
            for d in drafts
        )
    )

    published = [seq for seqs, _ in runs for seq in seqs]
    assert published == [1, 2, 3, 4, 5]  # commit order, each once
    leaves = await served_leaves(db)
    for seqs, root in runs:
        assert root == merkle.root_hash(leaves[: seqs[-1]])


async def test_commands_queued_when_the_database_closes_are_committed_and_answered(
    db: Database,
) -> None:
    await demo.seed(db)
    sending = [asyncio.ensure_future(send(db, f"Last orders #{n}")) for n in range(5)]
    await asyncio.sleep(0)  # one turn: each send is queued with the writer

    await db.writer.close()  # in the same turn as the last of them

    outcomes = [await asyncio.wait_for(s, timeout=10) for s in sending]
    assert sorted(o.events[0].seq for o in outcomes) == [1, 2, 3, 4, 5]
    assert [e.seq for e in await served(db)] == [1, 2, 3, 4, 5]
    again = await send(db, "After closing: the writer opens again")
    assert again.events[0].seq == 6


async def test_a_batch_cut_off_mid_way_leaves_nothing_remembered(db: Database) -> None:
    await demo.seed(db)
    await send(db)
    assert demo.CHANNEL in db.writer.memory.channels
    link = db.writer.link
    run_many = link.run_many
    reached = asyncio.Event()

    async def stalled(prepared: Prepared, rows: Any) -> None:
        reached.set()
        await asyncio.Event().wait()  # until cancelled

    link.run_many = stalled  # type: ignore[method-assign]
    try:
        cut = asyncio.ensure_future(send(db, "Cut off"))
        async with asyncio.timeout(10):
            await reached.wait()  # the batch has moved the head in memory, not yet written
        task = db.writer._task
        assert task is not None
        task.cancel()  # as the event loop shutting down would
        with pytest.raises(RuntimeError, match="may or may not be committed"):
            await asyncio.wait_for(cut, timeout=10)
    finally:
        link.run_many = run_many  # type: ignore[method-assign]

    assert db.writer.memory.channels == {}
    theirs, mine = await another_process_then_this_one(db)
    assert (theirs.events[0].seq, mine.events[0].seq) == (2, 3)


def selects(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and f"FROM {table}" in s]


async def test_a_plain_send_reads_no_plans_and_writes_its_deadline_in_one_more_statement(
    db: Database,
) -> None:
    await demo.seed(db)
    first = await send(db)

    with statements(db) as seen:
        await send(db, "Hydrant test, Station Road")
        cancel = rules.Cancel(first.notice.id)
        await commands.execute(db, cancel, channel_id=demo.CHANNEL, actor=ANA)

    assert [s for s in seen if "AREA_KEY =" in s] == []  # no window and area: no plans read
    assert selects(seen, "CONFLICTS") == []  # a notice that is no plan has no conflicts
    assert len([s for s in seen if s.startswith("INSERT INTO DUE_ACTIONS")]) == 1
    assert commits(seen) == 2


async def test_a_plan_reads_the_plans_of_its_area_once(db: Database) -> None:
    await demo.seed(db)
    starts = db.clock.now() + timedelta(days=3)
    content = NoticeContent(
        subject="Water main renewal, Mill Lane",
        activity=ActivityWindow(starts, starts + timedelta(hours=8)),
        area="Mill Lane",
    )

    with statements(db) as seen:
        await commands.execute(
            db, rules.SendNotice(uuid.uuid4(), content), channel_id=demo.CHANNEL, actor=ANA
        )

    assert len([s for s in seen if "AREA_KEY =" in s]) == 1


async def test_a_policy_changed_behind_the_writers_back_is_read_afresh(db: Database) -> None:
    await demo.seed(db)
    before = await send(db)  # the writer remembers the channel, its head and its policy
    quick = Policy(ack_deadlines={**Policy().ack_deadlines, Priority.ROUTINE: timedelta(hours=2)})
    async with db.engine.begin() as connection:  # as `hotline admin` might, with no event
        await connection.execute(
            update(ChannelRow)
            .where(ChannelRow.id == demo.CHANNEL)
            .values(policy=policy_to_json(quick))
        )

    after = await send(db)

    assert before.notice.ack_due_at == before.notice.sent_at + timedelta(days=3)
    assert after.notice.ack_due_at == after.notice.sent_at + timedelta(hours=2)


async def test_a_firing_with_nothing_due_locks_no_channel(db: Database) -> None:
    await demo.seed(db)

    with statements(db) as seen:
        outcome = await commands.fire_due(db)

    assert (outcome.claimed, outcome.events) == (0, [])
    assert [s.split()[0] for s in seen] == ["SELECT", "COMMIT"]
    assert "FROM DUE_ACTIONS" in seen[0]


async def test_two_firings_in_one_batch_never_claim_one_due_action_twice(db: Database) -> None:
    await demo.seed(db)
    clock = ManualClock(db.clock.now())
    db.clock = clock
    for n in range(3):
        await send(db, f"Valve {n}")
        clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(days=3))

    with statements(db) as seen:
        firings = await asyncio.gather(*(commands.fire_due(db, limit=2) for _ in range(2)))

    assert commits(seen) == 1  # queued together, committed together
    assert sorted(f.claimed for f in firings) == [1, 2]
    overdue = [e.data["notice"] for f in firings for e in f.events if e.type == "notice.overdue"]
    assert sorted(overdue) == sorted({*overdue})
    assert len(overdue) == 3
