"""A revoked token's open WebSockets are closed with ``4401``, by every server process.

Each server process looks for revoked tokens every ``HOTLINE_REVOCATION_CHECK_SECONDS``
(2 s by default, as here). The tests revoke a token from another process, as an
administrator does with ``hotline admin token revoke``, and wait for the close itself,
bounded by ``WAIT``; the sockets of other tokens must come through the same looks open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect

from client import Closed, HotlineClient, Subscription
from client.protocol.messages import CloseCode
from server.service import access
from server.store.db import Database
from tests.e2e.conftest import Demo, Launcher, hotline
from tests.e2e.ws_helpers import STEP, Peer

WAIT = 15.0
"""Seconds a revoked token's socket may stay open: the watch's 2 s, with room to spare."""


async def live_token_of(database_url: str, operator: str) -> uuid.UUID:
    """The id of the one live token the demo issued to ``operator``."""
    db = Database(database_url)
    try:
        tokens = await access.list_tokens(db, operator)
    finally:
        await db.dispose()
    [live] = [t.id for t in tokens if t.revoked_at is None]
    return live


async def issue_token(database_url: str, operator: str) -> str:
    """A second token for ``operator``, as another device of theirs would have."""
    db = Database(database_url)
    try:
        _, token = await access.issue_token(db, operator, label="phone")
    finally:
        await db.dispose()
    return token


async def revoke(launch: Launcher, database_url: str, token_id: uuid.UUID) -> None:
    """``hotline admin token revoke``, run as its own process on the servers' database."""
    done = await asyncio.to_thread(
        hotline,
        "admin",
        "token",
        "revoke",
        str(token_id),
        "--database-url",
        database_url,
        cwd=launch.directory,
    )
    assert done.returncode == 0, done.stderr


@asynccontextmanager
async def subscribed(url: str, token: str, channel: str) -> AsyncIterator[Peer]:
    """A socket to the server at ``url`` that said hello with ``token`` and subscribed."""
    ws_url = f"ws://{urlsplit(url).netloc}/api/v1/ws"
    async with connect(ws_url, open_timeout=STEP, close_timeout=STEP, proxy=None) as ws:
        peer = Peer(ws)
        await peer.hello(token)
        await peer.subscribe(channel)
        yield peer


async def send_notice(demo: Demo, operator: str, subject: str) -> tuple[str, int]:
    """Send a notice over REST; returns its id and its ``notice.sent`` sequence number."""
    async with httpx.AsyncClient(base_url=demo.url, timeout=STEP) as client:
        response = await client.post(
            demo.notices,
            headers=demo.auth(operator),
            json={"id": str(uuid.uuid4()), "subject": subject},
        )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["seq"]


async def read_to_the_end(subscription: Subscription) -> None:
    """Take events from ``subscription`` until it ends, within ``WAIT`` seconds."""
    async with asyncio.timeout(WAIT):
        async for _ in subscription:
            pass


async def test_a_revoked_tokens_sockets_are_closed_with_4401_in_every_server_process(
    launch: Launcher, database_url: str
) -> None:
    demo = launch.demo(database_url)
    _, second_url = launch.serve(database_url)  # another worker on the same database
    laptop = await live_token_of(database_url, "carla")
    phone = await issue_token(database_url, "carla")
    channel = demo.channel

    async with (
        subscribed(demo.url, demo.tokens["carla"], channel) as revoked_on_first,
        subscribed(second_url, demo.tokens["carla"], channel) as revoked_on_second,
        subscribed(second_url, phone, channel) as other_token,
        subscribed(demo.url, demo.tokens["ana"], channel) as other_operator,
    ):
        await revoke(launch, database_url, laptop)
        revoked_at = asyncio.get_running_loop().time()
        closes = await asyncio.gather(
            revoked_on_first.read_until_closed(within=WAIT),
            revoked_on_second.read_until_closed(within=WAIT),
        )
        closed_after = asyncio.get_running_loop().time() - revoked_at
        # Both processes have looked since the revocation, and the other sockets are still
        # served. (Each process pushes the events it committed, so each is asked in turn.)
        notice, seq = await send_notice(demo, "ana", "Kerb works, Station Road")
        await other_operator.events_up_to(seq)
        await other_token.send(
            {"type": "receipt", "ref": "r1", "channel": channel, "notice": notice}
        )
        answer = await other_token.receive_until(lambda m: m["type"] in {"result", "error"})

    for closed in closes:
        assert closed.rcvd is not None
        assert closed.rcvd.code == CloseCode.UNAUTHENTICATED, f"after {closed_after:.1f} s"
        assert closed.rcvd.reason == "token revoked"
    assert answer["type"] == "result", answer
    for server in launch.started:
        assert server.stop() == 0  # and its log is complete
        log = server.log.read_text()
        assert str(laptop) in log, "each process logs the close with the token's id"
        assert demo.tokens["carla"] not in log, "a token is never logged"


async def test_a_subscription_whose_token_is_revoked_ends_with_closed_4401(
    launch: Launcher, server: Demo
) -> None:
    token_id = await live_token_of(server.database_url, "dev")
    async with (
        HotlineClient(server.url, server.tokens["dev"]) as dev,
        dev.subscribe([server.channel], confirm_receipts=False) as roads,
    ):
        _, seq = await send_notice(server, "ana", "Hydrant test, Elm Street")
        async with asyncio.timeout(WAIT):
            async for event in roads:  # live: the notice came over the socket
                if event.seq >= seq:
                    break
        await revoke(launch, server.database_url, token_id)
        with pytest.raises(Closed) as raised:
            await read_to_the_end(roads)

    assert raised.value.code == CloseCode.UNAUTHENTICATED
