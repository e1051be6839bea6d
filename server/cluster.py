"""Several server processes, one log: what the others committed, and who is online there.

Each process's sockets are fed by its own :class:`~server.fanout.Hub`. What this process
commits, it publishes to its hub itself. What *another* process commits, this process
learns of from the database, in two ways that back each other up:

- **Notifications** (PostgreSQL only). The writer sends ``NOTIFY hotline_events`` with
  ``<channel>:<seq>:<process>`` in the transaction that appends the events, so that PostgreSQL tells
  every listening process once the commit is done, in commit order. The payload is only a
  pointer: the :class:`Relay` reads the events themselves from the log, so a large event,
  or a notification that never came, loses nothing.
- **A look at the heads** every ``fanout_heal_seconds``, on both databases: the head of each
  channel this process's sockets watch is compared with the last event its hub handed
  out, and what is missing is read from the log. That heals a lost notification (a
  listener reconnecting after the database restarted) within the bound, and on SQLite it
  brings the events written by another process on the same file to the sockets.

The events read are handed to the hub, which hands them to the connections; each
connection drops what it has already sent and fills any gap from the log itself (see
``server/api/websocket.py``), so reading an event twice is harmless and events reach every
socket in log order.

**Presence** works the same way on ``hotline_presence``: each process says who is online
through it, per channel, whenever that changes, and every ``presence_heartbeat_seconds``
says it is still there. A process not heard from for three heartbeats (killed with
``kill -9``) is taken as gone, and its operators with it. A process that starts, or whose
listener reconnects, asks the others to say it all again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg
from sqlalchemy import select, text

from server.fanout import Hub
from server.service.log import Checkpoints
from server.store.availability import log_failure
from server.store.db import Database
from server.store.models import ChannelRow
from server.store.repository import Repository
from server.store.statements import EVENTS_CHANNEL
from server.store.tree import TreeStore

__all__ = ["PRESENCE_CHANNEL", "Relay"]

log = logging.getLogger(__name__)

PRESENCE_CHANNEL = "hotline_presence"
"""The PostgreSQL notification channel on which processes say who is online through them."""

READ_PAGE = 500
"""Events read from the log at a time when a notified gap is filled."""
HEADS_CHUNK = 500
"""Channels whose heads are asked for in one query."""
GONE_AFTER_HEARTBEATS = 3
"""Heartbeats a process may miss before its operators count as offline."""
RECONNECT_MAX_SECONDS = 5.0
"""The longest wait between two tries to listen again."""
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")

PAYLOAD_LIMIT = 7900
"""Bytes of a notification's payload PostgreSQL accepts (8000), with room to spare."""


class Relay:
    """Feeds this process's hub with what other processes committed, and their presence.

    Args:
        db: the database.
        hub: this process's hub.
        heal_every: seconds between two looks at the heads of the watched channels.
        heartbeat_every: seconds between two "still here" of this process (PostgreSQL).
    """

    def __init__(
        self, db: Database, hub: Hub, *, heal_every: float, heartbeat_every: float
    ) -> None:
        self.db = db
        self.hub = hub
        self.checkpoints: Checkpoints = hub.checkpoints
        self.heal_every = heal_every
        self.heartbeat_every = heartbeat_every
        self.process = uuid.uuid4().hex[:12]
        """This process's name among the others, new at every start."""
        self._notified: dict[str, int] = {}  # channel -> highest seq told, not yet read
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()  # channels whose presence here the others must hear
        self._say = asyncio.Event()
        # Presence elsewhere: process -> channel -> who; and when each process was heard.
        self._elsewhere: dict[str, dict[str, frozenset[tuple[str, str]]]] = {}
        self._heard: dict[str, float] = {}
        self._said_here: set[str] = set()  # channels with someone online here, as last said
        self._ask_again = True  # ask the others to say it all (at start, on reconnecting)
        self._listening = asyncio.Event()
        if not db.is_sqlite:
            hub.changed = self._presence_changed
            db.writer.origin = self.process

    # -- the tasks -----------------------------------------------------------------------

    async def run(self) -> None:
        """Relay until cancelled: read what is notified, heal gaps, share presence."""
        tasks = [asyncio.create_task(self._relay(), name="relay")]
        tasks.append(asyncio.create_task(self._heal(), name="relay-heal"))
        if not self.db.is_sqlite:
            tasks.append(asyncio.create_task(self._listen(), name="relay-listen"))
            tasks.append(asyncio.create_task(self._share(), name="relay-presence"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def listening(self) -> bool:
        """Whether notifications are being received now (PostgreSQL)."""
        return self._listening.is_set()

    async def started_listening(self) -> None:
        """Return once notifications are being received (PostgreSQL; on SQLite, never)."""
        await self._listening.wait()

    def notified(self, channel: str, seq: int) -> None:
        """Another process (or this one) committed ``channel`` up to ``seq``."""
        head = self.hub.head(channel)
        if head is not None and seq <= head:
            return  # handed out already: this process's own commit, as a rule
        if not self.hub.watches(channel):
            return  # nobody here to tell: a subscriber reads the log when it comes
        if seq > self._notified.get(channel, 0):
            self._notified[channel] = seq
            self._wake.set()

    async def _relay(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            told, self._notified = self._notified, {}
            for channel, seq in told.items():
                try:
                    await self._catch_up(channel, seq)
                except Exception as error:  # the next notification, or the next look, tries again
                    log_failure(log, "reading events to relay", error)

    async def _catch_up(self, channel: str, seq: int) -> None:
        """Hand the hub ``channel``'s events it lacks, up to ``seq``."""
        while True:
            head = self.hub.head(channel)
            if not self.hub.watches(channel) or (head is not None and head >= seq):
                return
            # Nothing handed out here yet: the newest event alone. Each connection read
            # the log up to its subscription and fills any gap before this one itself.
            after = seq - 1 if head is None else head
            async with self.db.session() as session:
                events = await Repository(session).log(
                    channel, after=after, limit=min(READ_PAGE, seq - after)
                )
                if not events:
                    return
                root = await TreeStore(session).root(channel, events[-1].seq)
            self.hub.deliver(events, root=root)

    async def _heal(self) -> None:
        while True:
            await asyncio.sleep(self.heal_every)  # a period, not a wait for an event
            try:
                await self.heal()
            except Exception as error:  # the database may be away: the next look tries again
                log_failure(log, "looking at the heads of the watched channels", error)

    async def heal(self) -> None:
        """Compare each watched channel's head with what the hub handed out; relay the gap."""
        watched = self.hub.watched()
        heads: dict[str, int] = {}
        async with self.db.session() as session:
            for start in range(0, len(watched), HEADS_CHUNK):
                chunk = watched[start : start + HEADS_CHUNK]
                query = select(ChannelRow.id, ChannelRow.head_seq).where(ChannelRow.id.in_(chunk))
                heads.update({c: h for c, h in await session.execute(query)})
        for channel, head in heads.items():
            if head > 0:
                self.notified(channel, head)

    # -- listening (PostgreSQL) ----------------------------------------------------------

    async def _listen(self) -> None:
        conninfo = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        wait = 0.1
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, connect_timeout=5, application_name="hotline-relay"
                )
                async with connection:
                    await connection.execute(f"LISTEN {EVENTS_CHANNEL}")
                    await connection.execute(f"LISTEN {PRESENCE_CHANNEL}")
                    self._listening.set()
                    wait = 0.1
                    log.info("listening for other processes' commits")
                    # What was committed while nobody listened, and presence said meanwhile.
                    await self.heal()
                    self._dirty.update(self.hub.watched())
                    self._ask_again = True
                    self._say.set()
                    async for note in connection.notifies():
                        self._heard_note(note.channel, note.payload)
            except (psycopg.Error, OSError) as error:
                log.warning(
                    "not listening for other processes' commits; trying again",
                    extra={"error": str(error) or type(error).__name__, "retry_in": wait},
                )
            finally:
                self._listening.clear()
            await asyncio.sleep(wait)  # back-off before connecting again
            wait = min(wait * 2, RECONNECT_MAX_SECONDS)

    def _heard_note(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            name, seq, origin = [*payload.rsplit(":", 2), "", ""][:3]
            if origin != self.process and seq.isdigit():  # its own: published already
                self.notified(name, int(seq))
            return
        try:
            said = json.loads(payload)
        except ValueError:
            return
        if isinstance(said, dict):
            self._heard_presence(said)

    # -- presence across processes (PostgreSQL) ------------------------------------------

    def _presence_changed(self, channel: str) -> None:
        self._dirty.add(channel)
        self._say.set()

    def _heard_presence(self, said: dict[str, Any]) -> None:
        process = said.get("process")
        if not isinstance(process, str) or process == self.process:
            return
        loop = asyncio.get_running_loop()
        self._heard[process] = loop.time()
        if said.get("again"):  # a process started or reconnected: say it all again
            self._dirty.update(self.hub.watched())
            self._dirty.update(self._said_here)
            self._say.set()
        if said.get("gone"):
            self._forget(process)
            return
        channel, online = said.get("channel"), said.get("online")
        if isinstance(channel, str) and isinstance(online, list):
            who = frozenset((str(p), str(o)) for p, o in online if isinstance(p, str))
            channels = self._elsewhere.setdefault(process, {})
            if who:
                channels[channel] = who
            else:
                channels.pop(channel, None)
            self._show(channel)

    def _show(self, channel: str) -> None:
        """Tell the hub who is online on ``channel`` through all other processes."""
        everyone: set[tuple[str, str]] = set()
        for channels in self._elsewhere.values():
            everyone |= channels.get(channel, frozenset())
        self.hub.set_elsewhere(channel, frozenset(everyone))

    def _forget(self, process: str) -> None:
        self._heard.pop(process, None)
        channels = self._elsewhere.pop(process, {})
        for channel in channels:
            self._show(channel)

    async def _share(self) -> None:
        """Say who is online here when it changes, and that this process is alive."""
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_beat - loop.time())):
                    await self._say.wait()
            self._say.clear()
            now = loop.time()
            messages: list[dict[str, Any]] = []
            if self._ask_again:
                messages.append({"process": self.process, "again": True})
            dirty, self._dirty = self._dirty, set()
            for channel in sorted(dirty):
                online = sorted(self.hub.here(channel))
                if online or channel in self._said_here:
                    messages.append({"process": self.process, "channel": channel, "online": online})
                if online:
                    self._said_here.add(channel)
                else:
                    self._said_here.discard(channel)
            if now >= next_beat:
                messages.append({"process": self.process})  # still here
                next_beat = now + self.heartbeat_every
                gone_before = now - GONE_AFTER_HEARTBEATS * self.heartbeat_every
                for process, heard in list(self._heard.items()):
                    if heard < gone_before:
                        log.info("a server process went quiet", extra={"process": process})
                        self._forget(process)
            try:
                await self._notify(PRESENCE_CHANNEL, messages)
                self._ask_again = False
            except Exception as error:  # the database may be away: say it all again once back
                log_failure(log, "telling the other processes who is online", error)
                self._dirty |= dirty
                self._ask_again = True

    async def goodbye(self) -> None:
        """Tell the others this process is going, with everyone online through it."""
        if self.db.is_sqlite:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._notify(PRESENCE_CHANNEL, [{"process": self.process, "gone": True}])

    async def _notify(self, channel: str, messages: Iterable[dict[str, Any]]) -> None:
        payloads = []
        for message in messages:
            payload = json.dumps(message, separators=(",", ":"))
            if len(payload.encode()) > PAYLOAD_LIMIT:
                log.warning(
                    "presence too large to share", extra={"channel": message.get("channel")}
                )
                continue
            payloads.append(payload)
        if not payloads:
            return
        async with self.db.engine.begin() as connection:  # sent once this commits
            await connection.execute(
                _NOTIFY, [{"channel": channel, "payload": p} for p in payloads]
            )
