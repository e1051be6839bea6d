"""What the verifiable log costs: appends and proofs at 10^4 to 10^6 events, and the live loop.

Run from the repository root (docs/reference/benchmarks-log.md explains the figures)::

    git worktree add /tmp/hotline-before-log 5f33ca5
    python tests/benchmarks/bench_log.py --sizes 10000 100000 1000000 \
        --before /tmp/hotline-before-log

For each size n it grows the demo channel ``water-roads`` of a fresh SQLite file to n
events and measures:

- **store**: through ``TreeStore`` in a real transaction, one append (rolled back, so the
  tree stays at n leaves), the same from the right edge held in memory (as a command
  does once its process remembers the edge: no read), the root a checkpoint signs, one
  inclusion proof of a random event and one consistency proof from a random older size;
  with the rows and statements each one needs, beside log2(n). With ``--postgres URL``
  (default: the environment's ``HOTLINE_TEST_POSTGRES_URL``) the same on a fresh
  PostgreSQL database, dropped after;
- **http**: ``python -m server demo --json`` started on that file, and over one keep-alive
  connection ``GET …/checkpoint``, ``…/proofs/inclusion`` and ``…/proofs/consistency``
  beside ``GET /healthz``, the HTTP floor. Served proofs are first checked against the
  served checkpoint and events, so the figures are those of right answers.

Then, with ``--before``, **loop**: ``bench_live.py``'s full loop (send, receive,
acknowledge, see the acknowledgement) on two servers at once, one on the code before the
log existed (a worktree of commit 5f33ca5) and one on this tree (or ``--after``), in
turns, and the ratio of their medians. Each part's timing at one size stops at
``--budget`` seconds: with the slow query of the log as first written, a proof at 10^6
events took half a second.

The events are written in bulk, not through the command path: a million sends at about
15 ms each would take over four hours. Each event is a real-looking row (a notice's
``notice.sent``, ``notice.received``, ``notice.acknowledged``, with no ``notices`` row
behind it), and its leaf is hashed from the event exactly as the API serves it, with the
real functions; the perfect subtrees are folded from the leaves in memory and inserted.
The script is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from bench_live import Spread, filesystem_of, full_loop
from bench_send import Server, code_of, cpu_model
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.engine import make_url

from client.protocol.log import CompactRange, event_hash
from client.protocol.merkle import (
    Tree,
    completed_subtrees,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from server.service import demo
from server.store.db import Database
from server.store.migrate import upgrade
from server.store.models import ChannelRow, EventRow, LogNodeRow
from server.store.repository import wire_event
from server.store.tree import TreeStore

CHANNEL = demo.CHANNEL
BATCH = 20_000
"""Rows inserted per statement while growing the log."""
STEP = 10.0
"""Seconds any one request may take."""
WARMUP = 10
"""Untimed rounds of requests before the timed ones, at most."""
BEFORE_THE_LOG = "5f33ca5"
"""The last commit without the Merkle tree: the full loop's baseline."""
TARGETS = {"inclusion proof ms at 1M": 2.0, "loop ratio": 1.20}
"""Targets: an inclusion proof served in 2 ms at most at 10^6 events (issue 9; 5 ms when the
log was built); the loop with the log 20% slower at most than the loop without it."""
LOOP_WARMUP = 30
"""Untimed loops on each server before the loop part's turns."""
BODY = "Open trench on the north lane; one lane closed with signals."
EPOCH = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)


# -- the log, built in memory -------------------------------------------------------------


def event_rows(first: int, last: int) -> Iterator[dict[str, Any]]:
    """Events ``first`` to ``last`` of the channel, as ``events`` rows: notices, in threes.

    Each notice is sent by ana, received and acknowledged by carla, as in the live loop.
    """
    for seq in range(first, last + 1):
        number, step = divmod(seq - 1, 3)
        notice = uuid.UUID(int=number + 1)
        data: dict[str, Any] = {"notice": str(notice)}
        if step == 0:
            data |= {"subject": f"Water main renewal #{number}", "body": BODY}
            data |= {"priority": "routine", "activity": None, "area": None}
            data |= {"ack_required": True, "refers_to": None, "client_time": None}
            data["ack_due_at"] = "2026-11-03T07:30:00.000Z"
        elif step == 2:
            data |= {"reason": None, "client_time": None}
        party, operator = ("water", "ana") if step == 0 else ("roads", "carla")
        kind = ("notice.sent", "notice.received", "notice.acknowledged")[step]
        yield {
            "channel_id": CHANNEL,
            "seq": seq,
            "type": kind,
            "at": EPOCH + timedelta(milliseconds=seq),
            "actor_party": party,
            "actor_operator": operator,
            "notice_id": notice,
            "data": json.dumps(data, sort_keys=True, ensure_ascii=False),
        }


def leaf_of(row: dict[str, Any]) -> bytes:
    """The leaf of a stored event: the hash of the event as the API serves it."""
    return event_hash(wire_event(EventRow(**row)).model_dump(mode="json"))


class Levels:
    """Every perfect subtree of the log so far, by level: ``hashes[level][index]``."""

    def __init__(self) -> None:
        self.hashes: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        """How many leaves there are."""
        return len(self.hashes[0])

    def extend(self, leaves: list[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaves; return each ``(level, index, hash)`` they complete, leaves included."""
        old = self.size
        self.hashes[0].extend(leaves)
        added = [(0, old + i, leaf) for i, leaf in enumerate(leaves)]
        level = 0
        while len(self.hashes[level]) >= 2:
            below = self.hashes[level]
            if len(self.hashes) == level + 1:
                self.hashes.append([])
            above = self.hashes[level + 1]
            for index in range(len(above), len(below) // 2):
                above.append(node_hash(below[2 * index], below[2 * index + 1]))
                added.append((level + 1, index, above[-1]))
            level += 1
        return added

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves, folded from their perfect subtrees."""
        return Tree(size, lambda level, index: self.hashes[level][index]).root()


async def grow(db: Database, levels: Levels, size: int) -> float:
    """Append events and tree rows until the channel has ``size`` events; seconds taken."""
    started = time.perf_counter()
    async with db.session() as session:
        while levels.size < size:
            first, last = levels.size + 1, min(levels.size + BATCH, size)
            rows = list(event_rows(first, last))
            nodes = levels.extend([leaf_of(row) for row in rows])
            await session.execute(insert(EventRow), rows)
            await session.execute(
                insert(LogNodeRow),
                [{"channel_id": CHANNEL, "level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes],
            )
        await session.execute(
            update(ChannelRow).where(ChannelRow.id == CHANNEL).values(head_seq=size)
        )
        await session.commit()
    async with db.engine.connect() as connection:
        if db.is_sqlite:  # fold the WAL into the file, as a long-running server would have
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:  # statistics, as autovacuum would gather within a minute; SQLite has none
            await connection.execute(text("ANALYZE log_nodes"))
    return time.perf_counter() - started


async def check_tree(db: Database, levels: Levels, size: int) -> None:
    """Fail unless the stored tree's root is the RFC 6962 root of all the leaves."""
    async with db.session() as session:
        stored = await TreeStore(session).root(CHANNEL, size)
    if stored != root_hash(levels.hashes[0][:size]):
        raise SystemExit(f"the bulk-built tree of {size} leaves has the wrong root")


# -- (1) the store ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cost:
    """One operation's times, and the rows and statements one such operation needs."""

    spread: Spread
    rows: str
    statements: int


def keys_asked(size: int, compute: Callable[[Tree], object]) -> int:
    """How many perfect subtrees (rows) ``compute`` folds its answer from."""
    keys: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        keys.add((level, index))
        return bytes(32)

    compute(Tree(size, record))
    return len(keys)


def rows_text(counts: list[int]) -> str:
    """``13`` or ``12-20``: the rows an operation needed, over the samples."""
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}-{high}"


async def append_reading_edge(tree: TreeStore, size: int, leaf: bytes) -> None:
    """An append by a process that does not remember the edge: read it, then extend."""
    await tree.extend(CHANNEL, await tree.compact_range(CHANNEL, size), [leaf])


async def store_costs(
    db: Database, size: int, repeats: int, budget: float, rng: random.Random
) -> tuple[dict[str, Cost], str]:
    """Time each ``TreeStore`` operation ``repeats`` times, interleaved, at ``size`` leaves.

    Rounds stop early once ``budget`` seconds have gone (after three at least). Each runs
    in a transaction already begun (as in a command, whose first statement takes the
    channel's lock), and is timed alone; the append is then rolled back.

    Returns:
        Each operation's cost, and the start of the database's plan for a proof's query.
    """
    statements: list[tuple[str, Any]] = []

    def count(_c: object, _k: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    async with db.session() as session:
        edge = await TreeStore(session).compact_range(CHANNEL, size)
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    leaf = bytes(range(32))
    written = len(completed_subtrees(size, leaf, lambda lv, ix: leaf))
    operations: dict[str, Callable[[TreeStore], tuple[Awaitable[object], int]]] = {
        "append (rolled back)": lambda tree: (
            append_reading_edge(tree, size, leaf),
            size.bit_count() + written,
        ),
        # What a command does when its process remembers the channel's right edge.
        "append, edge in memory": lambda tree: (
            tree.extend(CHANNEL, CompactRange(size, list(edge.hashes)), [leaf]),
            written,
        ),
        "root (checkpoint)": lambda tree: (tree.root(CHANNEL, size), size.bit_count()),
    }

    def inclusion(tree: TreeStore) -> tuple[Awaitable[object], int]:
        index = rng.randrange(size)
        rows = keys_asked(size, lambda t: t.inclusion_proof(index))
        return tree.inclusion_proof(CHANNEL, index, size), rows

    def consistency(tree: TreeStore) -> tuple[Awaitable[object], int]:
        old = rng.randrange(1, size)
        rows = keys_asked(size, lambda t: t.consistency_proof(old))
        return tree.consistency_proof(CHANNEL, old, size), rows

    operations |= {"inclusion proof": inclusion, "consistency proof": consistency}
    times: dict[str, list[float]] = {name: [] for name in operations}
    rows: dict[str, list[int]] = {name: [] for name in operations}
    issued: dict[str, int] = {}
    try:
        deadline = time.monotonic() + budget
        for round_ in range(repeats):
            if round_ >= 3 and time.monotonic() > deadline:
                break
            for name, operation in operations.items():
                async with db.session() as session:
                    await session.execute(
                        select(ChannelRow.head_seq).where(ChannelRow.id == CHANNEL)
                    )
                    awaitable, needed = operation(TreeStore(session))
                    statements.clear()
                    started = time.perf_counter()
                    await awaitable
                    times[name].append(time.perf_counter() - started)
                    issued[name] = len(statements)
                    rows[name].append(needed)
                    await session.rollback()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # The last statement timed was a consistency proof's: how does the database run it?
    statement, parameters = statements[-1]
    explain = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    async with db.engine.connect() as connection:
        plan = await connection.exec_driver_sql(explain + statement, parameters)
    costs = {
        name: Cost(Spread.of(times[name]), rows_text(rows[name]), issued[name])
        for name in operations
    }
    return costs, "; ".join(str(row[-1]).strip()[:72] for row in list(plan)[:3])


# -- (2) served over HTTP -----------------------------------------------------------------


def check_served(client: httpx.Client, levels: Levels, size: int, rng: random.Random) -> None:
    """Fail unless the server's checkpoint, events and proofs are right at ``size``."""
    checkpoint = client.get(f"/api/v1/channels/{CHANNEL}/checkpoint").raise_for_status().json()
    root = base64.b64decode(checkpoint["root_hash"])
    if checkpoint["size"] != size or root != levels.root(size):
        raise SystemExit(f"the server's checkpoint is not the tree of {size} events")
    for _ in range(5):
        seq, old = rng.randint(1, size), rng.randint(1, size)
        page = client.get(
            f"/api/v1/channels/{CHANNEL}/events", params={"after": seq - 1, "limit": 1}
        )
        served = page.raise_for_status().json()["events"][0]
        proof = client.get(
            f"/api/v1/channels/{CHANNEL}/proofs/inclusion", params={"seq": seq, "size": size}
        )
        hashes = [base64.b64decode(h) for h in proof.raise_for_status().json()["hashes"]]
        verify_inclusion(event_hash(served), seq - 1, size, hashes, root)
        proof = client.get(
            f"/api/v1/channels/{CHANNEL}/proofs/consistency", params={"old_size": old, "size": size}
        )
        hashes = [base64.b64decode(h) for h in proof.raise_for_status().json()["hashes"]]
        verify_consistency(old, size, hashes, levels.root(old), root)


def http_costs(
    server: Server, levels: Levels, repeats: int, budget: float, rng: random.Random
) -> dict[str, Spread]:
    """Time the log's three reads and ``/healthz``, interleaved, ``repeats`` times each.

    Rounds stop early once ``budget`` seconds have gone (after three timed at least).
    """
    size = levels.size
    path = f"/api/v1/channels/{CHANNEL}"
    requests: dict[str, Callable[[], tuple[str, dict[str, int]]]] = {
        "GET /healthz (floor)": lambda: ("/healthz", {}),
        "GET checkpoint": lambda: (f"{path}/checkpoint", {}),
        "GET inclusion proof": lambda: (
            f"{path}/proofs/inclusion",
            {"seq": rng.randint(1, size), "size": size},
        ),
        "GET consistency proof": lambda: (
            f"{path}/proofs/consistency",
            {"old_size": rng.randint(1, size - 1), "size": size},
        ),
    }
    headers = {"Authorization": f"Bearer {server.tokens['ana']}"}
    times: dict[str, list[float]] = {name: [] for name in requests}
    with httpx.Client(base_url=server.url, headers=headers, timeout=STEP) as client:
        check_served(client, levels, size, rng)
        warmup, deadline = min(WARMUP, repeats // 10), math.inf
        for round_ in range(warmup + repeats):  # the first rounds warm up, untimed
            if round_ == warmup:
                deadline = time.monotonic() + budget
            elif round_ > warmup + 3 and time.monotonic() > deadline:
                break
            for name, request in requests.items():
                url, params = request()
                started = time.perf_counter()
                answer = client.get(url, params=params)
                took = time.perf_counter() - started
                if answer.status_code != 200:
                    raise SystemExit(f"{name} answered {answer.status_code}: {answer.text}")
                if round_ >= warmup:
                    times[name].append(took)
    return {name: Spread.of(seconds) for name, seconds in times.items()}


# -- (3) the live loop, before and after the log ------------------------------------------


@contextlib.contextmanager
def server_on(tree: Path, directory: Path) -> Iterator[Server]:
    """The demo server in ``directory``, running the code in ``tree`` (``PYTHONPATH``)."""
    directory.mkdir()
    server = Server(directory, env={"PYTHONPATH": str(tree)})
    try:
        yield server
    finally:
        server.stop()


def loop_cost(args: argparse.Namespace, directory: Path) -> None:
    """Both codes' servers at once, ``--loops`` loops on each in turn, ``--loop-rounds`` times.

    Turns of a second or two, rather than whole runs of each, so that whatever else the
    machine does in the meantime weighs on both codes alike: on a shared machine the same
    code's run medians wander by a fifth from one minute to the next.
    """
    trees = {"before the log": args.before, "with the log": args.after}
    for label, tree in trees.items():
        print(f"  {label}: {code_of(tree)}")
    samples: dict[str, list[float]] = {label: [] for label in trees}
    cpu: dict[str, list[float]] = {label: [] for label in trees}
    with contextlib.ExitStack() as stack:
        servers = {
            label: stack.enter_context(server_on(tree, directory / f"loop-{n}"))
            for n, (label, tree) in enumerate(trees.items())
        }
        for label, server in servers.items():
            # Proof of the code each server runs: only the log's serves its key.
            token = {"Authorization": f"Bearer {server.tokens['ana']}"}
            has_log = httpx.get(f"{server.url}/api/v1/log/key", headers=token).is_success
            print(f"  {label}: serves /api/v1/log/key: {'yes' if has_log else 'no'}")
            if has_log != (label == "with the log"):
                raise SystemExit(f"the server {label} runs the wrong code: check PYTHONPATH")
            asyncio.run(full_loop(server, LOOP_WARMUP, deflate=True))
        order = list(servers.items())
        for _ in range(args.loop_rounds):
            # ABBA: whatever one turn leaves behind falls on each code's turns alike.
            for label, server in order:
                loop = asyncio.run(full_loop(server, args.loops, deflate=True))
                samples[label] += loop.samples
                cpu[label].append(loop.server_cpu_ms)
            order.reverse()
    heading = f"full loop, {args.loop_rounds} turns each (ms)"
    print(f"{heading:<36}{'median':>9}{'p99':>9}{'server CPU':>12}")
    for label in trees:
        spread = Spread.of(samples[label])
        print(f"  {label:<34}{spread.median:9.2f}{spread.p99:9.2f}", end="")
        print(f"{statistics.median(cpu[label]):9.2f} ms")
    ratio = statistics.median(samples["with the log"]) / statistics.median(
        samples["before the log"]
    )
    limit = TARGETS["loop ratio"]
    print(f"  ratio {ratio:.2f}; target <= {limit:.2f}: {verdict(ratio <= limit)}")


# -- (4) offline verification of an export ------------------------------------------------
# How long verifying a whole exported log of 10^6 events takes, with nothing but
# client/protocol, is timed by bench_verify.py beside this script.


# -- main ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """``met`` or ``NOT met``."""
    return "met" if ok else "NOT met"


def print_store(size: int, costs: dict[str, Cost], first: dict[str, Cost] | None) -> None:
    """The store table of one size, with growth since the first size beside log2's."""
    print(f"  n = {size:,}, log2 n = {math.log2(size):.1f}")
    print(f"  {'':<24}{'median ms':>10}{'p99 ms':>9}{'times':>6}{'rows':>8}{'stmts':>6}", end="")
    print(f"{'x first':>9}")
    for name, cost in costs.items():
        growth = "" if first is None else f"{cost.spread.median / first[name].spread.median:9.2f}"
        spread = f"{cost.spread.median:10.3f}{cost.spread.p99:9.3f}{cost.spread.count:6}"
        print(f"  {name:<24}{spread}{cost.rows:>8}{cost.statements:>6}{growth}")


async def sizes_part(
    url: str, args: argparse.Namespace, *, time_store: bool, at_each: Callable[[Levels], None]
) -> None:
    """Grow a fresh database through the sizes; at each, check the tree, time the store
    (if ``time_store``) and call ``at_each``.

    ``at_each`` blocks this event loop while it runs; nothing else is running on it.
    """
    db = Database(url)
    levels, first, smallest = Levels(), None, args.sizes[0]
    try:
        await upgrade(db)
        await demo.seed(db)
        for size in args.sizes:
            took = await grow(db, levels, size)
            await check_tree(db, levels, size)
            print(f"  grew to {size:,} events in {took:.0f} s; the tree's root checked")
            if time_store:
                costs, plan = await store_costs(
                    db, size, args.repeats, args.budget, random.Random(args.seed + size)
                )
                print_store(size, costs, first)
                print(f"  plan of a proof's query: {plan}")
                if size != smallest:
                    growth = math.log2(size) / math.log2(smallest)
                    print(f"  {'log2 n, x first':<24}{growth:>48.2f}")
                first = first or costs
            at_each(levels)
    finally:
        await db.dispose()


async def postgres_part(server_url: str, args: argparse.Namespace) -> None:
    """The store part on a fresh PostgreSQL database, dropped afterwards."""
    base = make_url(server_url)
    name = f"hotline_bench_{uuid.uuid4().hex[:12]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        await sizes_part(url, args, time_store=True, at_each=lambda levels: None)
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def print_http(size: int, costs: dict[str, Spread]) -> None:
    """The HTTP table of one size, each request's median above the floor's beside it."""
    print(f"  {f'served, n = {size:,}':<28}{'median ms':>10}{'p99 ms':>9}{'times':>6}", end="")
    print(f"{'- floor':>9}")
    floor = costs["GET /healthz (floor)"].median
    for name, spread in costs.items():
        above = "" if "floor" in name else f"{spread.median - floor:9.3f}"
        print(f"  {name:<28}{spread.median:10.3f}{spread.p99:9.3f}{spread.count:6}{above}")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure each part asked for, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[10_000, 100_000, 1_000_000],
        help="log sizes, smallest first; none skips to the loop (10000 100000 1000000)",
    )
    parser.add_argument(
        "--repeats", type=int, default=500, help="store operations timed per size (500)"
    )
    parser.add_argument(
        "--http-repeats", type=int, default=500, help="requests timed per size (500)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds each part may spend timing at one size; fewer repeats past it (60)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["store", "http"],
        choices=["store", "http"],
        help="what to measure at each size (store http)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HOTLINE_TEST_POSTGRES_URL"),
        help="also the store part on this PostgreSQL server ($HOTLINE_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help=f"a worktree of {BEFORE_THE_LOG}: also time the full loop on it and on this tree",
    )
    parser.add_argument(
        "--after",
        type=Path,
        default=Path(__file__).resolve().parents[2],
        help="the code to compare with --before (this tree)",
    )
    parser.add_argument(
        "--loop-rounds", type=int, default=20, help="turns of each code in the loop part (20)"
    )
    parser.add_argument("--loops", type=int, default=50, help="loops timed per turn (50)")
    parser.add_argument("--seed", type=int, default=6962)
    args = parser.parse_args(argv)
    args.sizes.sort()
    if (args.sizes and args.sizes[0] < 2) or args.repeats < 2 or args.http_repeats < 10:
        parser.error("need --sizes of at least 2, --repeats >= 2, --http-repeats >= 10")
    if args.before is not None and not (args.before / "server").is_dir():
        parser.error(f"--before: make it with `git worktree add {args.before} {BEFORE_THE_LOG}`")

    with tempfile.TemporaryDirectory(prefix="hotline-log-") as tmp:
        directory = Path(tmp)
        print(f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, ", end="")
        print(f"{cpu_model()}, {os.cpu_count()} cores, {filesystem_of(directory)} at {tmp}")
        print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        if args.sizes:
            measure_sizes(directory, args)
        if args.postgres and "store" in args.parts:
            print("store, PostgreSQL")
            asyncio.run(postgres_part(args.postgres, args))
        if args.before is not None:
            loop_cost(args, directory)


def measure_sizes(directory: Path, args: argparse.Namespace) -> None:
    """The store part on SQLite; at each size, the HTTP part on the same file."""
    served: dict[int, dict[str, Spread]] = {}

    def http_part(levels: Levels) -> None:
        server = Server(directory)  # `demo` on the grown file: it migrates, seeds, serves
        try:
            rng = random.Random(args.seed - levels.size)
            served[levels.size] = http_costs(server, levels, args.http_repeats, args.budget, rng)
        finally:
            server.stop()
        print_http(levels.size, served[levels.size])

    url = f"sqlite:///{directory / 'hotline.db'}"
    at_each = http_part if "http" in args.parts else lambda levels: None
    print("SQLite" + (", store" if "store" in args.parts else ""))
    asyncio.run(sizes_part(url, args, time_store="store" in args.parts, at_each=at_each))
    if served and max(served) >= 1_000_000:
        largest = served[max(served)]
        inclusion = largest["GET inclusion proof"].median
        floor = largest["GET /healthz (floor)"].median
        target = TARGETS["inclusion proof ms at 1M"]
        print(f"  inclusion proof at {max(served):,} events, median {inclusion:.2f} ms", end="")
        print(f" (floor, GET /healthz: {floor:.2f} ms); target <= {target:g} ms: ", end="")
        print(verdict(inclusion <= target))
        consistency = largest["GET consistency proof"].median
        print(f"  consistency proof, median: {consistency:.2f} ms (no target of its own)")
    print()


if __name__ == "__main__":
    main()
