"""How fast the delivery worker empties the outbox, and what the outbox costs the live loop.

Run from the repository root (docs/reference/benchmarks-live.md explains the figures)::

    python tests/benchmarks/bench_outbox.py throughput --deliveries 2000 --runs 5 \
        [--database-url postgresql://postgres@127.0.0.1/test] [--batch 100] [--concurrency 16]
    python tests/benchmarks/bench_outbox.py loop --loops 1000 \
        [--database-url postgresql://postgres@127.0.0.1/test]

**throughput**, in this process, on a fresh SQLite file (or, with ``--database-url``, a
fresh PostgreSQL database made on that server and dropped at the end), in each run and
for each of two senders, in turns (ABBA from one run to the next):

1. the demo's parties, operators and channel, and a webhook subscription of water's on
   ``notice.sent`` (``webhooks.subscribe``, as the REST API does);
2. ``--deliveries`` notices sent through the writer (``commands.execute``, as the API
   would), so that the outbox holds one delivery each, all due;
3. one pass of a :class:`~server.service.deliveries.Deliverer` is timed
   (``deliver_due``: claim, send, record, a batch at a time, until nothing is due), and
   checked: every delivery delivered, one attempt each.

The two senders: **http**, the real ``WebhookSender`` (sign, check the address, POST,
read the answer) to a fast receiver in another process on this machine (a bare asyncio
HTTP/1.1 server that answers ``204`` at once and counts the ``webhook-id`` values it saw:
each must come once); and **none**, a sender that answers "delivered" at once: the
worker's own cost, the database's claims and records. The figure is deliveries a second,
the median over the runs.

**loop**: ``bench_live.py``'s full loop (ana sends over REST, carla's socket acknowledges,
ana's socket sees the acknowledgement) on two servers of this tree (``python -m server
demo``), each on its own fresh database: *hooked*, whose demo channel has a webhook
subscription to every event (three calls a loop: ``notice.sent``, ``notice.received``,
``notice.acknowledged``) at a fast receiver in another process, and *plain*, with none.
A loop on one, then a loop on the other, the order reversed after each pair (ABBA at the
loop level); it prints both medians, the median of the pairs' ratios (hooked / plain:
the outbox's cost to the loop, rows written in the events' transaction and calls sent
after) and each server's CPU a loop, then checks that the receiver was called once for
each event. The script is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from bench_clock import interleaved
from bench_live import (
    ROOT,
    STEP,
    Spread,
    bearer,
    child,
    describe_database,
    describe_tree,
    fresh_database,
    head_of,
    run,
    wait_for,
)
from bench_send import Server, cpu_model
from sqlalchemy import func, select

from client.protocol.vocabulary import Priority, Role
from server.config import Settings
from server.domain import rules
from server.domain.model import Actor, NoticeContent
from server.secrets import SecretBox
from server.service import commands, demo, webhooks
from server.service.deliveries import Deliverer, Outgoing, Sent
from server.service.destinations import Guard
from server.service.webhook_sender import WebhookSender
from server.store.db import Database
from server.store.migrate import upgrade
from server.store.models import DeliveryAttemptRow, DeliveryRow

ANA = Actor("water", "ana", Role.OPERATOR)
WANDA = Actor("water", "wanda", Role.ADMIN)
SEND_AT_ONCE = 256
"""Sends queued together while filling the outbox: one writer batch each, as under load."""
LOOPBACK = "127.0.0.0/8"
"""The receiver runs on this machine: webhooks may call loopback addresses."""
DRAIN_TIMEOUT = 60.0
"""Seconds the hooked server may take, after the last loop, to have called for every event."""


# -- a fast receiver, in a process of its own ----------------------------------------------


def receiver_process(pipe: Connection) -> None:
    """A bare HTTP/1.1 server on 127.0.0.1 answering every request ``204`` (a child's target).

    Sends its port, then, when told to stop, how many requests it answered and how many
    distinct ``webhook-id`` values they carried.
    """
    seen: set[str] = set()
    calls = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        seen.add(value.strip().decode())
                await reader.readexactly(length)
                calls += 1
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the caller hung up, or the receiver is stopping
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            pipe.send(server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told
        pipe.send((calls, len(seen)))

    asyncio.run(main())


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, Connection]]:
    """The fast receiver's URL, and the pipe that says what it saw once sent ``stop``."""
    with child(receiver_process) as (pipe, _pid):
        port = wait_for(pipe, STEP)
        yield f"http://127.0.0.1:{port}/hotline", pipe


def stop_receiver(pipe: Connection) -> tuple[int, int]:
    """Stop the receiver; returns the calls it answered and the distinct ids among them."""
    pipe.send("stop")
    calls, distinct = wait_for(pipe, STEP)
    return int(calls), int(distinct)


# -- throughput ----------------------------------------------------------------------------


class Accepting:
    """A sender that accepts every delivery at once: the worker's own cost."""

    async def send(self, delivery: Outgoing) -> Sent:
        return Sent(ok=True, status_code=204)


@dataclass(frozen=True, slots=True)
class Drained:
    """One timed pass of the worker over a full outbox."""

    sender: str
    deliveries: int
    seconds: float
    cpu_seconds: float
    """This process's CPU time over the pass (all its threads: aiosqlite's too)."""

    @property
    def per_second(self) -> float:
        """Deliveries sent and recorded a second."""
        return self.deliveries / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU time a delivery, in milliseconds."""
        return 1000 * self.cpu_seconds / self.deliveries


async def fill(db: Database, settings: Settings, url: str, count: int) -> SecretBox:
    """The demo, water's subscription to ``notice.sent`` at ``url``, and ``count`` notices."""
    await demo.seed(db)
    box = SecretBox.load_or_create(settings.secrets_key_file)
    guard = Guard.from_settings(settings)
    await webhooks.subscribe(db, box, guard, WANDA, demo.CHANNEL, url=url, types=["notice.sent"])
    content = NoticeContent(subject="Water main renewal, Mill Lane", priority=Priority.ROUTINE)
    for start in range(0, count, SEND_AT_ONCE):
        sends = [
            commands.execute(
                db, rules.SendNotice(uuid.uuid4(), content), channel_id=demo.CHANNEL, actor=ANA
            )
            for _ in range(min(SEND_AT_ONCE, count - start))
        ]
        await asyncio.gather(*sends)
    return box


async def one_pass(
    url: str, directory: Path, args: argparse.Namespace, sender_kind: str, receiver_url: str
) -> Drained:
    """Fill a fresh outbox with ``--deliveries``, then time one worker pass that empties it."""
    settings = Settings(
        database_url=url,
        secrets_key_file=directory / "secrets.key",
        log_key_file=directory / "log.key",
        webhook_allow_networks=LOOPBACK,  # parsed by the validator
    )
    db = Database(url)
    try:
        await upgrade(db)
        box = await fill(db, settings, receiver_url, args.deliveries)
        sender: Any = Accepting()
        if sender_kind == "http":
            sender = WebhookSender(db, settings, box)
        deliverer = Deliverer(
            db,
            {"webhook": sender},
            settings=settings,
            rng=random.Random(1),
            batch=args.batch,
            concurrency=args.concurrency,
        )
        started, cpu = time.perf_counter(), time.process_time()
        tried = await deliverer.deliver_due()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if isinstance(sender, WebhookSender):
            await sender.aclose()
        await check_drained(db, args.deliveries, tried)
    finally:
        await db.dispose()
    return Drained(sender_kind, args.deliveries, seconds, cpu)


async def check_drained(db: Database, expected: int, tried: list[Any]) -> None:
    """Every delivery delivered at its first try; otherwise the figures mean nothing."""
    async with db.session() as session:
        by_status = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
        statuses = {status: n for status, n in (await session.execute(by_status)).all()}
        attempts = await session.scalar(select(func.count()).select_from(DeliveryAttemptRow))
    if statuses != {"delivered": expected} or attempts != expected or len(tried) != expected:
        raise SystemExit(f"the pass left {statuses}, {attempts} attempts, {len(tried)} tried")


def measure_throughput(args: argparse.Namespace, directory: Path) -> list[Drained]:
    """Every run's two passes (http, none), each on a fresh database, the order alternating."""
    passes: list[Drained] = []
    order = ["http", "none"]
    with receiver() as (receiver_url, pipe):
        for number in range(1, args.runs + 1):
            for kind in order:
                place = directory / f"run-{number}-{kind}"
                with fresh_database(args.database_url, place) as url:
                    drained = run(one_pass(url, place, args, kind, receiver_url))
                passes.append(drained)
                print(
                    f"run {number} of {args.runs}, sender {kind:>4}: {drained.deliveries} "
                    f"deliveries in {drained.seconds:.2f} s, {drained.per_second:,.0f}/s, "
                    f"CPU {drained.cpu_ms:.2f} ms a delivery"
                )
            order.reverse()
        calls, distinct = stop_receiver(pipe)
    expected = args.runs * args.deliveries
    if calls != expected or distinct != expected:
        raise SystemExit(f"the receiver saw {calls} calls, {distinct} ids, not {expected} each")
    return passes


def summarise_throughput(passes: list[Drained], args: argparse.Namespace) -> None:
    """The median deliveries a second by sender, over the runs."""
    print(
        f"\ndeliveries a second, median of {args.runs} runs "
        f"(claims of {args.batch}, {args.concurrency} sent at once)"
    )
    for kind, label in (("http", "to a local HTTP receiver"), ("none", "the worker alone")):
        rates = [p.per_second for p in passes if p.sender == kind]
        cpu = statistics.median(p.cpu_ms for p in passes if p.sender == kind)
        spread = f"runs {min(rates):,.0f} to {max(rates):,.0f}"
        print(
            f"  {label:<30}{statistics.median(rates):>9,.0f}/s   "
            f"({spread}; CPU {cpu:.2f} ms a delivery)"
        )


# -- the full loop, hooked and plain --------------------------------------------------------


async def subscribe_all(server: Server, url: str) -> None:
    """Water's admin subscribes to every event of the demo channel at ``url``, over REST."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        response = await http.post(
            f"/api/v1/channels/{server.channel}/webhooks",
            headers=bearer(server.tokens["wanda"]),
            json={"url": url, "types": []},
        )
    if response.status_code != 201:
        raise SystemExit(f"subscribing answered {response.status_code}: {response.text}")


async def head(server: Server) -> int:
    """The demo channel's last sequence number."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        return await head_of(http, server)


async def waiting_deliveries(server: Server) -> int:
    """How many of the demo channel's deliveries are not delivered yet (the delivery log)."""
    waiting, before = 0, None
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        while True:
            params: dict[str, Any] = {"limit": 200, "kind": "webhook"}
            if before is not None:
                params["before"] = before
            response = await http.get(
                f"/api/v1/channels/{server.channel}/deliveries",
                headers=bearer(server.tokens["wanda"]),
                params=params,
            )
            response.raise_for_status()
            page = response.json()
            waiting += sum(1 for d in page["items"] if d["status"] != "delivered")
            before = page["next_before"]
            if before is None:
                return waiting


async def drained(server: Server) -> None:
    """Wait, a bounded time, until the hooked server has delivered every event's call."""
    async with asyncio.timeout(DRAIN_TIMEOUT):
        while await waiting_deliveries(server):  # noqa: ASYNC110 - no event says so
            await asyncio.sleep(0.1)


def measure_loop(args: argparse.Namespace, directory: Path) -> None:
    """The full loop on a hooked and a plain server, a loop on each in turn."""
    env = {"PYTHONPATH": str(ROOT), "HOTLINE_WEBHOOK_ALLOW_NETWORKS": LOOPBACK}
    warmup = 30
    with contextlib.ExitStack() as stack:
        receiver_url, pipe = stack.enter_context(receiver())
        servers = {}
        for label in ("plain", "hooked"):
            place = directory / label
            url = stack.enter_context(fresh_database(args.database_url, place))
            server = Server(place, env=env, database_url=url)
            stack.callback(server.stop)
            servers[label] = server
        hooked = servers["hooked"]
        run(subscribe_all(hooked, receiver_url))
        first = run(head(hooked))
        print(f"\n{args.loops} loops on each, one on each in turn (ABBA at the loop level)")
        rigs = run(interleaved(servers, args.loops, warmup=warmup))
        run(drained(hooked))
        events = run(head(hooked)) - first
        calls, distinct = stop_receiver(pipe)
    if calls != events or distinct != events:
        raise SystemExit(f"the receiver saw {calls} calls, {distinct} ids; {events} events")
    without, with_ = rigs["plain"].samples, rigs["hooked"].samples
    print(f"\n{'full loop':<44}{'median':>9} {'p99':>8}")
    print(f"  {'plain: no subscription (ms)':<42}{Spread.of(without)}")
    print(f"  {'hooked: a webhook for every event (ms)':<42}{Spread.of(with_)}")
    ratios = [b / a for a, b in zip(without, with_, strict=True)]
    medians = statistics.median(with_) / statistics.median(without)
    print(
        f"  hooked / plain: medians {medians:.3f}; "
        f"median of the {len(ratios)} paired ratios {statistics.median(ratios):.3f}"
    )
    print(f"  the receiver was called once for each of the {events} events, each id once")


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["throughput", "loop"], help="what to measure")
    parser.add_argument("--deliveries", type=int, default=2000, help="a pass empties (2000)")
    parser.add_argument("--runs", type=int, default=5, help="throughput runs (5)")
    parser.add_argument("--batch", type=int, default=100, help="deliveries a claim takes (100)")
    parser.add_argument("--concurrency", type=int, default=16, help="sent at once (16)")
    parser.add_argument("--loops", type=int, default=1000, help="full loops on each (1000)")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (postgresql://postgres@127.0.0.1/test): run on fresh "
        "databases there, dropped after, instead of fresh SQLite files",
    )
    args = parser.parse_args(argv)
    if min(args.deliveries, args.runs, args.batch, args.concurrency, args.loops) < 1:
        parser.error("every count must be at least 1")
    if args.database_url is not None and not args.database_url.startswith("postgres"):
        parser.error("--database-url: a postgresql:// URL (SQLite is the default)")
    with tempfile.TemporaryDirectory(prefix="hotline-outbox-") as tmp:
        directory = Path(tmp)
        print(f"python {platform.python_version()}, {cpu_model()}, {os.cpu_count()} cores")
        print(describe_database(args.database_url, directory))
        print(f"this tree: {describe_tree(ROOT)}")
        print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.part == "throughput":
            print(f"{args.deliveries} deliveries a pass\n")
            passes = measure_throughput(args, directory)
        else:
            measure_loop(args, directory)
        print(f"\nload average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.part == "throughput":
        summarise_throughput(passes, args)


if __name__ == "__main__":
    main()
