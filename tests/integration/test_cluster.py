"""Several processes, one log: the relay (``server/cluster.py``) on real databases.

Each "process" here is a :class:`Database` of its own on the same database, with its own
hub and relay, as a server process has. What one commits must reach the other's hub: by
PostgreSQL's notifications, or, when one is lost (on SQLite there are none), by the
relay's look at the heads within ``fanout_heal_seconds``. Presence crosses processes the
same way. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from client.protocol import schemas
from client.protocol.vocabulary import Role
from server.cluster import Relay
from server.domain.model import Actor
from server.domain.rules import SendNotice
from server.fanout import Hub, LocalFanout
from server.keys import LogKeys
from server.service import commands, demo
from server.service.log import Checkpoints
from server.store.db import Database
from server.store.migrate import upgrade
from tests.unit.builders import content

ANA = Actor("water", "ana", Role.OPERATOR)
WAIT = 15.0
"""Seconds anything relayed may take, at most, on a busy two-core machine."""


class Recorder:
    """A connection as the hub sees it, keeping what it is handed."""

    def __init__(self, party: str, operator: str) -> None:
        self.party, self.operator, self.token_id = party, operator, uuid.uuid4()
        self.seqs: list[int] = []
        self.online: list[dict[str, list[str]]] = []
        self._news = asyncio.Event()

    def offer_event(self, event: schemas.Event, text: str) -> None:
        self.seqs.append(event.seq)
        self._news.set()

    def offer_presence(self, text: str) -> None:
        self.online.append(json.loads(text)["online"])
        self._news.set()

    def token_revoked(self) -> None:
        raise AssertionError("no token is revoked here")

    async def until(self, what: Callable[[], bool]) -> None:
        """Wait, at most ``WAIT`` seconds, until ``what()`` holds."""
        async with asyncio.timeout(WAIT):
            while not what():
                self._news.clear()
                await self._news.wait()


class Process:
    """What a server process has for fan-out: a database, a hub, a relay running."""

    def __init__(self, url: str, keys: LogKeys, *, heal_every: float, heartbeat: float) -> None:
        self.db = Database(url)
        self.hub = Hub(Checkpoints(keys))
        self.fanout = LocalFanout(self.hub)
        self.relay = Relay(self.db, self.hub, heal_every=heal_every, heartbeat_every=heartbeat)

    async def send(self) -> int:
        """Send a notice as ana through this process; the sequence number it got."""
        outcome = await commands.execute(
            self.db,
            SendNotice(uuid.uuid4(), content(activity=None)),
            channel_id=demo.CHANNEL,
            actor=ANA,
            fanout=self.fanout,
        )
        return outcome.seq


@asynccontextmanager
async def running(
    url: str, keys: LogKeys, *, heal_every: float = 60.0, heartbeat: float = 60.0
) -> AsyncIterator[Process]:
    """A process whose relay runs (and, on PostgreSQL, listens) until the block ends."""
    process = Process(url, keys, heal_every=heal_every, heartbeat=heartbeat)
    task = asyncio.create_task(process.relay.run())
    try:
        if not process.db.is_sqlite:
            async with asyncio.timeout(WAIT):
                await process.relay.started_listening()
        yield process
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await process.db.dispose()


@pytest.fixture
async def keys(database_url: str, tmp_path: Path) -> LogKeys:
    """The log's key, and a migrated database with the demo's channel."""
    db = Database(database_url)
    try:
        await upgrade(db)
        await demo.seed(db)
    finally:
        await db.dispose()
    return LogKeys.load_or_create(tmp_path / "log.key", name="hotline.test")


def postgres_only(url: str) -> None:
    if url.startswith("sqlite"):
        pytest.skip("notifications and shared presence are PostgreSQL's; SQLite runs one process")


async def test_what_one_process_commits_reaches_the_sockets_of_another(
    database_url: str, keys: LogKeys
) -> None:
    """Notified, not healed: the heads are looked at only once a minute here."""
    postgres_only(database_url)
    async with running(database_url, keys) as here, running(database_url, keys) as there:
        ana = Recorder("water", "ana")
        here.hub.subscribe(demo.CHANNEL, ana)
        sent = [await there.send() for _ in range(5)]

        await ana.until(lambda: bool(ana.seqs) and ana.seqs[-1] == sent[-1])

    # The first event handed over is the newest the relay was told of (a socket reads the
    # log up to its subscription itself); from then on, every one, in order, once.
    first = ana.seqs[0]
    assert ana.seqs == list(range(first, sent[-1] + 1))


async def test_a_process_does_not_read_back_what_it_published_itself(
    database_url: str, keys: LogKeys
) -> None:
    postgres_only(database_url)
    async with running(database_url, keys) as here:
        ana = Recorder("water", "ana")
        here.hub.subscribe(demo.CHANNEL, ana)
        sent = [await here.send() for _ in range(3)]
        await ana.until(lambda: len(ana.seqs) == 3)

        # Its own notifications name heads it handed out already: nothing more comes.
        await here.relay.heal()
        assert ana.seqs == sent


async def test_events_committed_elsewhere_are_healed_within_the_bound(
    database_url: str, keys: LogKeys
) -> None:
    """On SQLite, the look at the heads is the only way: another process wrote the events."""
    async with running(database_url, keys, heal_every=0.2) as here:
        ana = Recorder("water", "ana")
        here.hub.subscribe(demo.CHANNEL, ana)
        other = Process(database_url, keys, heal_every=60, heartbeat=60)  # its relay idle
        try:
            first = await other.send()
            await ana.until(lambda: ana.seqs == [first])
            more = [await other.send() for _ in range(3)]
            await ana.until(lambda: ana.seqs[-1:] == more[-1:])
        finally:
            await other.db.dispose()
    assert ana.seqs == [first, *more]


async def test_a_lost_notification_is_healed(database_url: str, keys: LogKeys) -> None:
    """The listener's connection is cut by the database (as a restart would) while another
    process commits: what it was not told of arrives all the same."""
    postgres_only(database_url)
    async with (
        running(database_url, keys, heal_every=0.5) as here,
        running(database_url, keys) as there,
    ):
        ana = Recorder("water", "ana")
        here.hub.subscribe(demo.CHANNEL, ana)
        first = await there.send()
        await ana.until(lambda: ana.seqs == [first])

        async with there.db.engine.begin() as connection:
            cut = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'hotline-relay' AND datname = current_database()"
                )
            )
        assert cut == 2  # both processes' listeners
        sent = [await there.send() for _ in range(3)]

        await ana.until(lambda: ana.seqs[-1] == sent[-1])
    assert ana.seqs == [first, *sent]


async def test_who_is_online_is_shared_between_processes(database_url: str, keys: LogKeys) -> None:
    postgres_only(database_url)
    async with running(database_url, keys, heartbeat=0.2) as there:
        carla = Recorder("roads", "carla")
        there.hub.subscribe(demo.CHANNEL, carla)
        async with running(database_url, keys, heartbeat=0.2) as here:
            ana = Recorder("water", "ana")
            here.hub.subscribe(demo.CHANNEL, ana)

            both = {"roads": ["carla"], "water": ["ana"]}
            await carla.until(lambda: carla.online[-1:] == [both])
            await ana.until(lambda: ana.online[-1:] == [both])

            here.hub.unsubscribe(demo.CHANNEL, ana)
            await carla.until(lambda: carla.online[-1] == {"roads": ["carla"]})

            here.hub.subscribe(demo.CHANNEL, ana)
            await carla.until(lambda: carla.online[-1] == both)
            await here.relay.goodbye()
            await carla.until(lambda: carla.online[-1] == {"roads": ["carla"]})
            assert there.hub.online(demo.CHANNEL) == {"roads": ["carla"]}


async def test_a_process_that_goes_quiet_takes_its_operators_offline(
    database_url: str, keys: LogKeys
) -> None:
    """Killed, a process says no goodbye: three missed heartbeats, and it counts as gone."""
    postgres_only(database_url)
    async with running(database_url, keys, heartbeat=0.2) as there:
        carla = Recorder("roads", "carla")
        there.hub.subscribe(demo.CHANNEL, carla)
        async with running(database_url, keys, heartbeat=0.2) as here:
            here.hub.subscribe(demo.CHANNEL, Recorder("water", "ana"))
            await carla.until(lambda: carla.online[-1:] == [{"roads": ["carla"], "water": ["ana"]}])
            # The block ends by cancelling the relay: no goodbye is said.
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        await carla.until(lambda: carla.online[-1] == {"roads": ["carla"]})
        assert loop.time() - quiet_since < WAIT
