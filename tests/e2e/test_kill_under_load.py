"""``kill -9`` under load loses no answered send, and the log still verifies.

Guarantee 1 under pressure, on SQLite and on PostgreSQL: 64 senders, each on its own
connection, send notices with fresh ids one after another; once 200 have been answered the
server is killed with SIGKILL while the others are in flight. A new server on the same
database must then hold every notice that was answered 201, whole and logged exactly once,
in a gapless log that verifies against the new server's signed checkpoint with the log key
the killed server used, and that extends the last checkpoint the killed server signed. A
send cut off by the kill may have landed or not; if it landed, it landed whole.

What is asserted does not depend on where the kill falls: only on which sends were
answered and which were cut off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from client import HotlineClient
from client.audit import ChannelAuditor
from client.verify import Report, verify_online
from tests.e2e.conftest import Demo, Launcher

SENDERS = 64
"""Concurrent senders, each with its own connection."""
KILL_AFTER = 200
"""Answered sends before the kill."""
SENDS_EACH = 50
"""The most notices one sender sends: a bound far above what the kill leaves it time for."""
REQUEST_TIMEOUT = 30.0
"""Seconds any one request may take (a writer may wait its turn under load)."""
LOAD_TIMEOUT = 60.0
"""Seconds the senders have to get ``KILL_AFTER`` answers, and the readers to read it all."""
READERS = 8
"""Connections that read the notices back after the restart."""
OPERATORS = ("ana", "ben", "carla", "dev")
"""The demo's operators, who all may send on its channel: the senders take turns."""


@dataclass
class Load:
    """What the senders saw, shared between them (one event loop: no locks needed)."""

    answered: dict[str, str] = field(default_factory=dict)
    """Notice id to subject, for each send answered 201."""
    cut_off: dict[str, str] = field(default_factory=dict)
    """Notice id to subject, for each send in flight when the server was killed."""
    trouble: list[str] = field(default_factory=list)
    """Anything else: a send refused or failing while the server was alive."""
    killed: bool = False
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at ``KILL_AFTER`` answers, or at the first trouble: time to stop either way."""


async def send_until_killed(demo: Demo, sender: int, load: Load) -> None:
    """Send notices one after another on one connection until the server is killed."""
    operator = OPERATORS[sender % len(OPERATORS)]
    async with httpx.AsyncClient(
        base_url=demo.url,
        headers=demo.auth(operator),
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=1),
    ) as http:
        for n in range(SENDS_EACH):
            if load.killed:
                return
            notice = {"id": str(uuid.uuid4()), "subject": f"Load test, sender {sender}, #{n}"}
            try:
                response = await http.post(demo.notices, json=notice)
            except httpx.TransportError as exc:
                if load.killed:
                    load.cut_off[notice["id"]] = notice["subject"]
                else:
                    load.trouble.append(f"sender {sender}: {exc!r} before the kill")
                    load.enough.set()
                return
            if response.status_code != 201:
                load.trouble.append(f"sender {sender}: {response.status_code} {response.text}")
                load.enough.set()
                return
            load.answered[notice["id"]] = notice["subject"]
            if len(load.answered) >= KILL_AFTER:
                load.enough.set()


def reader(demo: Demo) -> HotlineClient:
    """The SDK's client of a demo server, as carla of the roads department."""
    return HotlineClient(demo.url, demo.tokens["carla"], timeout=REQUEST_TIMEOUT)


async def log_key(demo: Demo) -> str:
    """The verifier key the server signs its checkpoints with."""
    async with reader(demo) as client, asyncio.timeout(REQUEST_TIMEOUT):
        return await client.log_key()


async def checkpoint(demo: Demo) -> str:
    """The channel's latest signed checkpoint note, as served."""
    async with reader(demo) as client, asyncio.timeout(REQUEST_TIMEOUT):
        return (await client.checkpoint(demo.channel)).note


async def load_then_kill(demo: Demo, load: Load) -> str:
    """Run the senders and SIGKILL the server once ``KILL_AFTER`` sends are answered.

    Returns:
        The checkpoint the server signed last, under load, just before it was killed.
    """
    senders = [asyncio.create_task(send_until_killed(demo, n, load)) for n in range(SENDERS)]
    note = ""
    try:
        try:
            await asyncio.wait_for(load.enough.wait(), LOAD_TIMEOUT)
        except TimeoutError:
            load.trouble.append(f"only {len(load.answered)} sends answered in {LOAD_TIMEOUT:g} s")
        if not load.trouble:
            note = await checkpoint(demo)
    finally:
        load.killed = True
        demo.process.kill()  # no warning: nothing gets to finish, flush or roll back
        async with asyncio.timeout(REQUEST_TIMEOUT):
            await asyncio.gather(*senders)
    return note


async def verified_log(demo: Demo, key: str) -> tuple[Report, list[dict[str, Any]]]:
    """``hotline verify``'s check of the whole log, with the key the killed server used."""
    events: list[dict[str, Any]] = []
    async with reader(demo) as client, asyncio.timeout(LOAD_TIMEOUT):
        report = await verify_online(client, demo.channel, log_key=key, events_out=events)
    return report, events


async def extends(demo: Demo, key: str, earlier: str, later: str) -> None:
    """Raise ``SplitView`` unless the log of ``later`` extends that of ``earlier``."""
    async with reader(demo) as client:

        async def fetch(old: int, new: int) -> list[bytes]:
            return await client.consistency_proof(demo.channel, old, new)

        auditor = ChannelAuditor(demo.channel, [key], fetch, checkpoint=earlier)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            await auditor.check_checkpoint(later)


async def notices(demo: Demo, ids: list[str]) -> dict[str, httpx.Response]:
    """Each notice as the server answers ``GET`` for it, read on ``READERS`` connections."""
    found: dict[str, httpx.Response] = {}

    async def read(share: list[str]) -> None:
        async with httpx.AsyncClient(
            base_url=demo.url, headers=demo.auth("ana"), timeout=REQUEST_TIMEOUT
        ) as http:
            for notice_id in share:
                found[notice_id] = await http.get(f"{demo.notices}/{notice_id}")

    async with asyncio.timeout(LOAD_TIMEOUT):
        await asyncio.gather(*(read(ids[n::READERS]) for n in range(READERS)))
    return found


def whole(response: httpx.Response, subject: str, logged_at: int) -> bool:
    """Whether a notice read back is the one sent, at the seq of its ``notice.sent``."""
    if response.status_code != 200:
        return False
    notice = response.json()
    history = [(e["seq"], e["type"]) for e in notice["history"]]
    return (
        notice["subject"] == subject
        and notice["status"] == "sent"
        and notice["seq"] == logged_at
        and history == [(logged_at, "notice.sent")]
    )


async def test_a_sigkill_under_64_senders_loses_no_answered_notice_and_the_log_verifies(
    database_url: str, launch: Launcher
) -> None:
    first = launch.demo(database_url)
    key = await log_key(first)
    load = Load()
    before_kill = await load_then_kill(first, load)
    assert load.trouble == [], f"trouble after {len(load.answered)} answered sends"
    assert load.cut_off, "the kill should have cut sends off in flight"

    second = launch.demo(database_url)
    report, log = await verified_log(second, key)
    await extends(second, key, before_kill, report.checkpoint)
    sent = [e["data"]["notice"] for e in log if e["type"] == "notice.sent"]
    logged_at = {e["data"]["notice"]: e["seq"] for e in log}
    read_back = await notices(second, [*load.answered, *load.cut_off])

    assert report.ok, report.failures
    assert [e["seq"] for e in log] == list(range(1, report.size + 1)), "the log has a gap"
    assert len(sent) == len(log), "the log holds only the notices sent"
    assert [n for n, times in Counter(sent).items() if times > 1] == [], "a notice logged twice"
    assert set(sent) <= load.answered.keys() | load.cut_off.keys(), "a notice nobody sent"
    lost = [n for n in load.answered if n not in logged_at]
    assert lost == [], f"{len(lost)} of {len(load.answered)} notices answered 201 were lost"
    assert [
        n for n, subject in load.answered.items() if not whole(read_back[n], subject, logged_at[n])
    ] == [], "an answered notice does not read back as sent"
    # A send cut off by the kill is there whole, or not at all.
    landed = [n for n in load.cut_off if n in logged_at]
    unlanded = [n for n in load.cut_off if n not in logged_at]
    assert [n for n in landed if not whole(read_back[n], load.cut_off[n], logged_at[n])] == []
    assert [n for n in unlanded if read_back[n].status_code != 404] == []
