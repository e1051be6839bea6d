"""Two server processes on one database: a socket on either hears what either committed.

The demo and a second ``serve`` share one database. Notices are sent over REST through
both at once; a socket subscribed on each server must receive every event of the channel,
in order, each once, however they were split. On PostgreSQL the second process learns of
the first's commits by ``NOTIFY``; on SQLite (where ``serve --workers`` is refused, but two
processes may still share a file, as ``hotline admin`` does) by its look at the heads
every ``HOTLINE_FANOUT_HEAL_SECONDS``. On PostgreSQL each socket also sees who is online
through the other process.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect

from tests.e2e.conftest import Launcher
from tests.e2e.ws_helpers import STEP, Peer

NOTICES = 30
SENDERS = 4
WITHIN = 30.0
"""Seconds every event may take to reach both sockets, on a busy two-core machine."""


def ws_url(url: str) -> str:
    return "ws://" + urlsplit(url).netloc + "/api/v1/ws"


async def test_sockets_on_two_processes_hear_every_commit_in_order(
    database_url: str, launch: Launcher
) -> None:
    first = launch.demo(database_url)
    # A quick heal, so that the SQLite run (which has no notifications) stays short.
    _, second_url = launch.serve(database_url, env={"HOTLINE_FANOUT_HEAL_SECONDS": "0.2"})
    urls = [first.url, second_url]

    async with (
        connect(ws_url(first.url), open_timeout=STEP, proxy=None) as one,
        connect(ws_url(second_url), open_timeout=STEP, proxy=None) as two,
        httpx.AsyncClient(timeout=STEP) as client,
    ):
        carla, dev = Peer(one), Peer(two)
        await carla.hello(first.tokens["carla"])
        await dev.hello(first.tokens["dev"])
        start = await carla.subscribe(first.channel)
        await dev.subscribe(first.channel, after=start)

        numbers = iter(range(NOTICES))

        async def sender() -> list[int]:
            seqs = []
            for n in numbers:
                response = await client.post(
                    urls[n % 2] + first.notices,
                    headers=first.auth("ana"),
                    json={"id": f"00000000-0000-4000-8000-{n:012d}", "subject": f"Valve {n}"},
                )
                assert response.status_code == 201, response.text
                seqs.append(response.json()["seq"])
            return seqs

        sent = sorted(s for seqs in await asyncio.gather(*[sender()] * SENDERS) for s in seqs)
        last = sent[-1]
        await asyncio.gather(
            carla.events_up_to(last, within=WITHIN), dev.events_up_to(last, within=WITHIN)
        )

        for peer in (carla, dev):
            seqs = [event["seq"] for event in peer.events]
            assert seqs[: last - start] == list(range(start + 1, last + 1))
            assert set(sent) <= set(seqs)

        if database_url.startswith("sqlite"):
            return  # presence crosses processes by PostgreSQL's notifications only
        # Each sees the other's operator online, through the other process.
        both = {"roads": ["carla", "dev"]}
        for peer in (carla, dev):
            if not any(message["online"] == both for message in peer.presence):
                await peer.receive_until(
                    lambda m: m["type"] == "presence" and m["online"] == both, within=WITHIN
                )
