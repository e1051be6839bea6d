"""How many due actions a minute the server's clock fires, and what it costs the live loop.

Run from the repository root (docs/reference/benchmarks-live.md explains the figures)::

    python tests/benchmarks/bench_clock.py --actions 2000 --runs 5 \
        [--database-url postgresql://postgres@127.0.0.1/test] [--batch 100]
    python tests/benchmarks/bench_clock.py --loop-load 20 --runs 4 --loops 300
    python tests/benchmarks/bench_clock.py --trees /tmp/hotline-clock
    python tests/benchmarks/bench_clock.py --paired /tmp/hotline-clock --loops 2000

**rate**, in this process, on a fresh SQLite file (or, with ``--database-url``, a fresh
PostgreSQL database made on that server and dropped at the end), in each run:

1. ``--actions`` urgent notices are sent (``commands.execute``, through the writer, as the
   API would) on a channel whose policy makes them due a minute later and reminds once a
   minute after that, on a hand-moved clock;
2. the clock is moved to the deadline and one scheduler pass (``Scheduler.fire_due``)
   is timed: it claims and fires every ``overdue`` action, each logging ``notice.overdue``
   and writing the reminder that follows;
3. the clock is moved to the reminder and a second pass is timed: every ``remind`` action,
   each logging ``notice.reminded`` and writing nothing more.

Before the passes, what the idle scheduler does between them is timed too: a look for the
next due time, one ``MIN(due_at)`` read, made at most once a second.

Each pass publishes to a real fan-out (a hub with no socket) and is checked: one event per
action, none left due. The figure is due actions a minute, the median over the runs.

**loop under load** (``--loop-load N``): ``bench_live.py``'s full loop on the demo channel
of a real server (``python -m server demo``, this tree), in turns: *quiet*, with nothing
due, and *firing*, with ``N`` urgent notices just sent on another channel, each reminded
every second for 20 seconds, so that the clock fires about ``N`` actions a second all
through the turn. The turns alternate, their order reversed from one run to the next
(ABBA); the log says afterwards how many actions fired within each firing turn.

**cost to the live loop**: ``--trees DIR`` makes two git worktrees of ``HEAD`` in ``DIR``,
``clock-on`` as committed and ``clock-off`` with the scheduler's task taken out of
``server/app.py``, and prints the ``bench_live.py`` command that runs each part on both in
turns (ABBA) and prints their ratios: the scheduler running against not. Turns of whole
parts meet a busy machine in different states, so ``--paired DIR`` compares the two more
finely: a server on each tree, on fresh databases, and ``--loops`` full loops on each, one
on this, one on that, the order reversed after each pair; it prints both medians, the
median of the pairs' ratios, and each server's CPU a loop. The script is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bench_live import (
    ROOT,
    STEP,
    Acknowledger,
    Spread,
    Subscriber,
    Watcher,
    bearer,
    cpu_seconds,
    describe_database,
    describe_tree,
    fresh_database,
    full_loop,
    head_of,
    post_notice,
    run,
)
from bench_send import Server, cpu_model

from client.protocol.times import parse_time
from client.protocol.vocabulary import Priority, Role
from server.clock import ManualClock
from server.domain import rules
from server.domain.model import Actor, Chase, NoticeContent, Policy
from server.fanout import Hub, LocalFanout
from server.keys import LogKeys
from server.service import admin, commands, demo
from server.service.log import Checkpoints
from server.service.scheduler import Scheduler
from server.store.db import Database
from server.store.migrate import upgrade

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CHANNEL = "clock-bench"
POLICY = Policy(
    ack_deadlines={**Policy().ack_deadlines, Priority.URGENT: MINUTE},
    chase={**Policy().chase, Priority.URGENT: Chase(MINUTE, MINUTE, 1, None)},
)
"""Urgent notices: due a minute after they are sent, reminded once a minute later."""
LOAD_CHANNEL = "clock-load"
SECOND = timedelta(seconds=1)
LOAD_POLICY = Policy(
    ack_deadlines={**Policy().ack_deadlines, Priority.URGENT: SECOND},
    chase={**Policy().chase, Priority.URGENT: Chase(SECOND, SECOND, 20, 21 * SECOND)},
)
"""Urgent notices: due a second after they are sent, reminded every second 20 times, then
escalated: one action a second each, for 21 seconds."""
CHASE_TIMEOUT = 120.0
"""Seconds a firing turn's chases may take to end (they take 22 when the clock keeps up)."""
ANA = Actor("water", "ana", Role.OPERATOR)
LOOKS = 200
"""Looks for the next due time timed a run (what the idle scheduler does once a second)."""
SEND_AT_ONCE = 256
"""Sends queued together while seeding: one writer batch each, as under load."""
SCHEDULER_LINE = '            asyncio.create_task(scheduler.run(), name="scheduler"),\n'
"""The line of ``server/app.py`` that ``clock-off`` goes without."""


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed scheduler pass."""

    kind: str
    actions: int
    seconds: float

    @property
    def per_minute(self) -> float:
        """Due actions fired a minute at this pass's pace."""
        return 60 * self.actions / self.seconds


async def seed(db: Database, actions: int) -> None:
    """The demo's parties and operators, the benchmark's channel, and ``actions`` notices."""
    await demo.seed(db)
    await admin.create_channel(db, CHANNEL, parties=("water", "roads"), policy=POLICY)
    content = NoticeContent(subject="Burst main, Mill Lane", priority=Priority.URGENT)
    for start in range(0, actions, SEND_AT_ONCE):
        sends = [
            commands.execute(
                db, rules.SendNotice(uuid.uuid4(), content), channel_id=CHANNEL, actor=ANA
            )
            for _ in range(min(SEND_AT_ONCE, actions - start))
        ]
        await asyncio.gather(*sends)


async def timed_pass(scheduler: Scheduler, kind: str, actions: int) -> Pass:
    """Time one pass; it must log one ``kind`` event per action."""
    started = time.perf_counter()
    fired = await scheduler.fire_due()
    seconds = time.perf_counter() - started
    kinds = {event.type for event in fired}
    if len(fired) != actions or kinds != {kind}:
        raise SystemExit(f"a pass fired {len(fired)} events of {kinds}, not {actions} {kind}")
    return Pass(kind, actions, seconds)


async def one_run(url: str, directory: Path, actions: int, batch: int) -> list[Pass]:
    """Seed a fresh database, then time the overdue pass and the reminder pass."""
    clock = ManualClock(START)
    db = Database(url, clock=clock)
    try:
        await upgrade(db)
        await seed(db, actions)
        keys = LogKeys.load_or_create(directory / "log.key", name="bench.localhost")
        fanout = LocalFanout(Hub(Checkpoints(keys)))
        scheduler = Scheduler(db, fanout, every=1.0, batch=batch)
        look = await timed_looks(scheduler, LOOKS)
        clock.set(START + MINUTE)
        overdue = await timed_pass(scheduler, "notice.overdue", actions)
        clock.set(START + 2 * MINUTE)
        reminded = await timed_pass(scheduler, "notice.reminded", actions)
        if await scheduler.fire_due():
            raise SystemExit("a third pass found more to fire")
    finally:
        await db.dispose()
    return [overdue, reminded, look]


async def timed_looks(scheduler: Scheduler, count: int) -> Pass:
    """Time ``count`` of the idle scheduler's looks for the next due time (``MIN(due_at)``)."""
    started = time.perf_counter()
    for _ in range(count):
        await scheduler.seconds_to_next()
    return Pass("look", count, time.perf_counter() - started)


def measure(args: argparse.Namespace, directory: Path) -> list[list[Pass]]:
    """Every run's two passes, each run on a fresh database."""
    runs = []
    for number in range(1, args.runs + 1):
        place = directory / f"run-{number}"
        with fresh_database(args.database_url, place) as url:
            passes = asyncio.run(one_run(url, place, args.actions, args.batch))
        runs.append(passes)
        print(
            f"run {number} of {args.runs}: "
            + "; ".join(
                f"{p.actions} {p.kind} in {p.seconds * 1000:.0f} ms ({p.per_minute:,.0f}/min)"
                for p in passes[:2]
            )
            + f"; a look for the next due time {passes[2].seconds * 1000 / LOOKS:.3f} ms"
        )
    return runs


def summarise(runs: list[list[Pass]]) -> None:
    """Medians over the runs, per kind of action and both together."""
    print()
    for index, kind in enumerate(("overdue (event + next due)", "reminder (event only)")):
        rates = [passes[index].per_minute for passes in runs]
        each = statistics.median(1000 * p[index].seconds / p[index].actions for p in runs)
        print(
            f"  {kind:<28} {statistics.median(rates):>12,.0f} a minute "
            f"(runs {min(rates):,.0f}-{max(rates):,.0f}); {each:.3f} ms an action"
        )
    both = [60 * sum(p.actions for p in ps[:2]) / sum(p.seconds for p in ps[:2]) for ps in runs]
    print(f"  {'both passes together':<28} {statistics.median(both):>12,.0f} a minute")
    look = statistics.median(1000 * ps[2].seconds / ps[2].actions for ps in runs)
    print(
        f"  idle, a look for the next due time (MIN(due_at), {runs[0][0].actions} rows "
        f"due later): {look:.3f} ms, once a second at most"
    )


# -- the full loop while the clock fires ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of full loops, quiet or with the clock firing."""

    firing: bool
    samples: tuple[float, ...]
    seconds: float
    """From the first loop to the last."""
    fired: int
    """Actions the clock fired on the load channel between the first loop and the last."""

    @property
    def fired_per_minute(self) -> float:
        """The clock's pace during the turn."""
        return 60 * self.fired / self.seconds


async def prepare_load(url: str) -> None:
    """The demo (as the server would make it) and the load channel, before the server starts."""
    db = Database(url)
    try:
        await upgrade(db)
        await demo.seed(db)
        await admin.create_channel(db, LOAD_CHANNEL, parties=("water", "roads"), policy=LOAD_POLICY)
    finally:
        await db.dispose()


async def load_log(http: httpx.AsyncClient, server: Server) -> list[dict[str, object]]:
    """The load channel's whole log."""
    events: list[dict[str, object]] = []
    while True:
        answer = await http.get(
            f"/api/v1/channels/{LOAD_CHANNEL}/events",
            headers=bearer(server.tokens["ana"]),
            params={"after": len(events), "limit": 1000},
        )
        answer.raise_for_status()
        page = answer.json()["events"]
        if not page:
            return events
        events.extend(page)


async def start_chases(http: httpx.AsyncClient, server: Server, count: int) -> None:
    """Send ``count`` urgent notices on the load channel at once."""

    async def send() -> None:
        body = {"id": str(uuid.uuid4()), "subject": "Burst main", "priority": "urgent"}
        answer = await http.post(
            f"/api/v1/channels/{LOAD_CHANNEL}/notices",
            headers=bearer(server.tokens["ana"]),
            json=body,
        )
        if answer.status_code != 201:
            raise SystemExit(f"send answered {answer.status_code}: {answer.text}")

    await asyncio.gather(*(send() for _ in range(count)))


async def chases_over(http: httpx.AsyncClient, server: Server, expected: int) -> None:
    """Wait until the load channel has ``expected`` escalations: every chase is over."""
    async with asyncio.timeout(CHASE_TIMEOUT):
        while True:
            log = await load_log(http, server)
            if sum(e["type"] == "notice.escalated" for e in log) >= expected:
                return
            await asyncio.sleep(0.5)  # between turns: nothing is timed while it waits


async def turn(server: Server, loops: int, load: int, *, firing: bool, chased: int) -> Turn:
    """One turn of ``loops`` full loops; with ``firing``, ``load`` chases running through it."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        if firing:
            await start_chases(http, server, load)
            await asyncio.sleep(1.5)  # the first reminders fall due a second after the sends
        started = datetime.now(UTC)
        loop = await full_loop(server, loops, deflate=False)
        ended = datetime.now(UTC)
        fired = 0
        if firing:
            chased += load
            await chases_over(http, server, chased)
            fired = sum(
                1
                for e in await load_log(http, server)
                if e["actor"] is None and started <= parse_time(str(e["at"])) <= ended
            )
    return Turn(firing, loop.samples, (ended - started).total_seconds(), fired)


def measure_load(args: argparse.Namespace, directory: Path) -> list[Turn]:
    """Quiet and firing turns on one server, in ABBA order over ``--runs`` runs."""
    turns: list[Turn] = []
    place = directory / "load"
    with fresh_database(args.database_url, place) as url:
        run(prepare_load(url))
        server = Server(place, env={"PYTHONPATH": str(ROOT)}, database_url=url)
        try:
            run(full_loop(server, 30, deflate=False))  # warm up
            order = [False, True]
            chased = 0
            for number in range(1, args.runs + 1):
                for firing in order:
                    done = run(
                        turn(server, args.loops, args.loop_load, firing=firing, chased=chased)
                    )
                    chased += args.loop_load if firing else 0
                    turns.append(done)
                    spread = Spread.of(list(done.samples))
                    what = f"firing {done.fired_per_minute:,.0f}/min" if firing else "quiet"
                    print(f"run {number} of {args.runs}, {what}: loop (ms) {spread}")
                order.reverse()
        finally:
            server.stop()
    return turns


def summarise_load(turns: list[Turn]) -> None:
    """The loop's median quiet and firing, pooled over the runs, and their ratio."""
    quiet = Spread.of([s for t in turns if not t.firing for s in t.samples])
    firing = Spread.of([s for t in turns if t.firing for s in t.samples])
    pace = statistics.median(t.fired_per_minute for t in turns if t.firing)
    print(f"\n{'full loop':<44}{'median':>9} {'p99':>8}")
    print(f"  {'quiet (ms)':<42}{quiet}")
    print(f"  {'firing, ' + format(pace, ',.0f') + ' actions/min (ms)':<42}{firing}")
    ratio, ratio_p99 = firing.median / quiet.median, firing.p99 / quiet.p99
    print(f"  firing / quiet: median {ratio:.3f}, p99 {ratio_p99:.3f}")


# -- the full loop with the scheduler and without, a loop at a time -------------------------


class Rig:
    """One server's two sockets and HTTP client, timing one full loop at a time."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.watcher = Watcher()
        self.acknowledger = Acknowledger(server.channel)
        self.http = httpx.AsyncClient(base_url=server.url, timeout=STEP)
        self.sockets: list[Subscriber] = []
        self.samples: list[float] = []

    async def open(self) -> None:
        """Connect ana's socket (watching) and carla's (acknowledging)."""
        head = await head_of(self.http, self.server)
        for operator, react in (("ana", self.watcher), ("carla", self.acknowledger)):
            token = self.server.tokens[operator]
            self.sockets.append(
                await Subscriber.open(self.server, token, after=head, react=react, deflate=False)
            )

    async def loop(self) -> None:
        """One notice sent by ana, acknowledged by carla, seen acknowledged by ana: timed."""
        notice = str(uuid.uuid4())
        seen = self.watcher.waiting[notice] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await post_notice(self.http, self.server, self.server.tokens["ana"], notice)
        async with asyncio.timeout(STEP):
            acknowledged = await seen
        self.samples.append(acknowledged - started)

    async def close(self) -> None:
        """Close the sockets and the HTTP client."""
        for socket in self.sockets:
            await socket.close()
        await self.http.aclose()


async def interleaved(servers: dict[str, Server], loops: int, warmup: int) -> dict[str, Rig]:
    """``loops`` full loops on each server, one on each in turn, the order reversed each time."""
    rigs = {label: Rig(server) for label, server in servers.items()}
    for rig in rigs.values():
        await rig.open()
    try:
        order = list(rigs.values())
        for _ in range(warmup):
            for rig in order:
                await rig.loop()
        cpu = {label: cpu_seconds(rig.server.process.pid) for label, rig in rigs.items()}
        for rig in order:
            rig.samples.clear()
        for _ in range(loops):
            for rig in order:
                await rig.loop()
            order.reverse()
        for label, rig in rigs.items():
            cpu[label] = cpu_seconds(rig.server.process.pid) - cpu[label]
    finally:
        for rig in rigs.values():
            await rig.close()
    for label, seconds in cpu.items():
        print(f"  {label}: server CPU {1000 * seconds / loops:.2f} ms a loop")
    return rigs


def measure_paired(args: argparse.Namespace, directory: Path) -> None:
    """The full loop on ``clock-off`` and ``clock-on`` servers, a loop on each in turn."""
    trees = {label: (args.paired / label).resolve() for label in ("clock-off", "clock-on")}
    for label, tree in trees.items():
        if not (tree / "server").is_dir():
            raise SystemExit(f"{tree}: no server/ package there (make it with --trees)")
        print(f"{label}: {describe_tree(tree)}")
    with contextlib.ExitStack() as stack:
        servers = {}
        for label, tree in trees.items():
            place = directory / label
            url = stack.enter_context(fresh_database(args.database_url, place))
            server = Server(place, env={"PYTHONPATH": str(tree)}, database_url=url)
            stack.callback(server.stop)
            servers[label] = server
        print(f"\n{args.loops} loops on each, one on each in turn (ABBA at the loop level)")
        rigs = run(interleaved(servers, args.loops, warmup=30))
    off, on = rigs["clock-off"].samples, rigs["clock-on"].samples
    print(f"\n{'full loop':<44}{'median':>9} {'p99':>8}")
    print(f"  {'without the scheduler (ms)':<42}{Spread.of(off)}")
    print(f"  {'with the scheduler running (ms)':<42}{Spread.of(on)}")
    ratios = [b / a for a, b in zip(off, on, strict=True)]
    print(
        f"  with / without: medians {statistics.median(on) / statistics.median(off):.3f}; "
        f"median of the {len(ratios)} paired ratios {statistics.median(ratios):.3f}"
    )


def make_trees(directory: Path) -> None:
    """Make ``clock-on`` and ``clock-off`` worktrees of ``HEAD`` in ``directory``."""
    on, off = directory / "clock-on", directory / "clock-off"
    for tree in (on, off):
        if tree.exists():
            raise SystemExit(f"{tree} exists already: remove it (git worktree remove {tree})")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), "HEAD"],
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
    app = off / "server" / "app.py"
    source = app.read_text()
    if source.count(SCHEDULER_LINE) != 1:
        raise SystemExit(f"{app}: the scheduler's line is not there as expected")
    app.write_text(source.replace(SCHEDULER_LINE, ""))
    print(f"clock-on: {describe_tree(on)}\nclock-off: {describe_tree(off)}")
    print("now run, for the scheduler's cost to the live loop (ABBA):")
    print(
        f"  python tests/benchmarks/bench_live.py --before {off} --after {on} "
        "--runs 4 --loops 300 --sends 300 --notices 1000 --idle 0"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments; make the worktrees, or measure and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=2000, help="due actions a pass (2000)")
    parser.add_argument("--runs", type=int, default=5, help="runs, each on a fresh database (5)")
    parser.add_argument("--batch", type=int, default=100, help="actions a claim takes (100)")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (postgresql://postgres@127.0.0.1/test): run on fresh "
        "databases there, dropped after, instead of fresh SQLite files",
    )
    parser.add_argument(
        "--loop-load",
        type=int,
        metavar="N",
        help="time the full loop quiet and with N chases firing (about N actions a second)",
    )
    parser.add_argument("--loops", type=int, default=300, help="full loops a turn (300)")
    parser.add_argument(
        "--paired",
        type=Path,
        metavar="DIR",
        help="time the full loop on DIR/clock-off and DIR/clock-on (made by --trees), "
        "a loop on each in turn",
    )
    parser.add_argument(
        "--trees",
        type=Path,
        metavar="DIR",
        help="make the clock-on and clock-off worktrees in DIR for bench_live.py, and stop",
    )
    args = parser.parse_args(argv)
    if args.trees is not None:
        make_trees(args.trees.resolve())
        return
    if args.actions < 1 or args.runs < 1 or args.batch < 1:
        parser.error("need --actions, --runs and --batch >= 1")
    if args.database_url is not None and not args.database_url.startswith("postgres"):
        parser.error("--database-url: a postgresql:// URL (SQLite is the default)")
    with tempfile.TemporaryDirectory(prefix="hotline-clock-") as tmp:
        directory = Path(tmp)
        print(f"python {platform.python_version()}, {cpu_model()}, {os.cpu_count()} cores")
        print(describe_database(args.database_url, directory))
        print(f"this tree: {describe_tree(ROOT)}")
        print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.paired is not None:
            measure_paired(args, directory)
            return
        if args.loop_load:
            print(f"{args.loops} full loops a turn; {args.loop_load} chases firing\n")
            turns = measure_load(args, directory)
        else:
            print(f"{args.actions} due actions a pass, claimed {args.batch} at a time\n")
            runs = measure(args, directory)
    print(f"\nload average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.loop_load:
        summarise_load(turns)
    else:
        summarise(runs)


if __name__ == "__main__":
    main()
