"""The Python SDK's webhook and e-mail calls against the real app, on SQLite and PostgreSQL.

The app runs in process with its lifespan, so its own delivery worker sends the calls; the
receiver is the documented example (``docs/examples/webhook-receiver/receiver.py``), a real
HTTP server on loopback that checks every signature with the secret the SDK was given.
Loopback is allowed for webhooks here, as an administrator allows a network of its own.

wanda is water's admin, raj roads'; ana and ben are water's operators.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import httpx
import pytest
from asgi_lifespan import LifespanManager

from client import Forbidden, HotlineClient, Invalid, NotFound
from client.protocol.schemas import Delivery
from server.app import create_app
from server.config import Settings
from server.service import demo
from server.store.db import Database

CHANNEL = demo.CHANNEL
WAIT = 15.0
"""Seconds a test waits for the app's worker to call the receiver."""
NOWHERE = "http://127.0.0.1:9/hotline"
"""A loopback URL nothing listens on: a subscription made before its receiver exists."""
RECEIVER_PY = Path(__file__).parents[2] / "docs" / "examples" / "webhook-receiver" / "receiver.py"


def _receiver_module() -> ModuleType:
    """The documented receiver, loaded from its file (it is an example, not a package)."""
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", RECEIVER_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


receiver_example = _receiver_module()


@contextmanager
def receiving(*secrets: str) -> Iterator[tuple[Any, str]]:
    """The example receiver, listening on loopback; yields it and its URL."""
    receiver = receiver_example.Receiver(list(secrets), out=None)
    server = receiver_example.make_server(("127.0.0.1", 0), receiver)
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hotline"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


async def received(receiver: Any, count: int) -> list[dict[str, Any]]:
    """The first ``count`` payloads the receiver took, waiting for them at most ``WAIT``."""

    def wait() -> list[dict[str, Any]]:
        with receiver.changed:
            arrived = receiver.changed.wait_for(lambda: len(receiver.received) >= count, WAIT)
            assert arrived, f"the receiver took {len(receiver.received)} of {count} calls"
            return list(receiver.received[:count])

    return await asyncio.to_thread(wait)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        attachments_dir=tmp_path / "attachments",
        webhook_allow_networks=[ip_network("127.0.0.0/8")],
    )


class Clients:
    """An SDK client per demo operator, all on the app in process."""

    def __init__(self, transport: httpx.AsyncBaseTransport, tokens: dict[str, str]) -> None:
        self._made = {
            operator: HotlineClient("http://hotline.test", token, transport=transport)
            for operator, token in tokens.items()
        }

    def __getitem__(self, operator: str) -> HotlineClient:
        return self._made[operator]

    async def aclose(self) -> None:
        for client in self._made.values():
            await client.aclose()


@pytest.fixture
async def hotline(db: Database, settings: Settings) -> AsyncIterator[Clients]:
    operators = await demo.seed(db)
    app = create_app(settings, db=db)
    async with LifespanManager(app) as manager:
        clients = Clients(httpx.ASGITransport(app=manager.app), {o.id: o.token for o in operators})
        try:
            yield clients
        finally:
            await clients.aclose()


async def all_of(deliveries: AsyncIterator[Delivery]) -> list[Delivery]:
    return [delivery async for delivery in deliveries]


async def settled(client: HotlineClient, webhook: UUID) -> list[Delivery]:
    """The webhook's delivery log once nothing in it waits; fails after ``WAIT`` seconds.

    The worker records a call after the receiver answered it: nothing announces that, so
    the log is read again every 20 ms until it shows it.
    """
    async with asyncio.timeout(WAIT):
        while True:
            log = await all_of(client.webhook_deliveries(CHANNEL, webhook))
            if all(delivery.status != "waiting" for delivery in log):
                return log
            await asyncio.sleep(0.02)  # no event says so: read it again


async def test_the_secret_the_sdk_is_given_verifies_the_calls_and_a_rotated_one_too(
    hotline: Clients,
) -> None:
    wanda = hotline["wanda"]
    made = await wanda.add_webhook(CHANNEL, NOWHERE, types=["notice.sent"])
    assert made.secret.startswith("whsec_")
    assert made.types == ["notice.sent"]

    with receiving(made.secret) as (receiver, url):
        moved = await wanda.update_webhook(CHANNEL, made.id, url=url)
        notice = await hotline["ana"].send(CHANNEL, subject="Hydrant flushing, Elm Street")
        (payload,) = await received(receiver, 1)

    assert moved.url == url
    assert payload["type"] == "notice.sent"
    assert payload["data"]["data"]["notice"] == str(notice.id)
    (delivery,) = await settled(wanda, made.id)
    assert (delivery.status, delivery.seq, delivery.kind) == ("delivered", notice.seq, "webhook")
    assert [attempt.ok for attempt in delivery.attempts] == [True]

    # Rotated with an overlap: the receiver that knows only the new secret takes the call.
    rotated = await wanda.rotate_webhook_secret(CHANNEL, made.id, overlap=timedelta(hours=1))
    assert rotated.secret != made.secret
    assert rotated.previous_secret_until is not None
    with receiving(rotated.secret) as (receiver, url):
        await wanda.update_webhook(CHANNEL, made.id, url=url)
        await hotline["ana"].send(CHANNEL, subject="Valve exercise, Mill Lane")
        (payload,) = await received(receiver, 1)
    assert payload["data"]["data"]["subject"] == "Valve exercise, Mill Lane"
    shown = await wanda.webhook(CHANNEL, made.id)
    assert shown.previous_secret_until == rotated.previous_secret_until
    assert "secret" not in shown.model_dump()


async def test_a_disabled_webhook_is_not_called_until_enabled_and_a_removed_one_is_gone(
    hotline: Clients,
) -> None:
    wanda = hotline["wanda"]
    made = await wanda.add_webhook(CHANNEL, NOWHERE)

    off = await wanda.update_webhook(CHANNEL, made.id, enabled=False)
    await hotline["ana"].send(CHANNEL, subject="Meter change, Church Street")
    on = await wanda.update_webhook(CHANNEL, made.id, enabled=True)

    assert off.enabled is False
    assert off.disabled_reason == "disabled by wanda"
    assert (on.enabled, on.failures, on.disabled_reason) == (True, 0, None)
    assert await all_of(wanda.webhook_deliveries(CHANNEL, made.id)) == []

    await hotline["ana"].send(CHANNEL, subject="Hydrant test, Mill Lane")
    called = await all_of(wanda.webhook_deliveries(CHANNEL, made.id))
    await wanda.remove_webhook(CHANNEL, made.id)

    assert await wanda.webhooks(CHANNEL) == []
    with pytest.raises(NotFound):
        await wanda.webhook(CHANNEL, made.id)
    with pytest.raises(NotFound):
        await wanda.update_webhook(CHANNEL, made.id, enabled=True)
    with pytest.raises(NotFound):
        await wanda.remove_webhook(CHANNEL, made.id)
    # What was sent to it, or given up, stays in the party's delivery log.
    assert [d.id for d in called] != []
    assert [d.id for d in await all_of(wanda.webhook_deliveries(CHANNEL, made.id))] == [
        d.id for d in called
    ]
    assert [d.id for d in await all_of(wanda.deliveries(CHANNEL, kind="webhook"))] == [
        d.id for d in called
    ]


async def test_only_an_admin_manages_webhooks_and_only_its_own_partys(hotline: Clients) -> None:
    made = await hotline["wanda"].add_webhook(CHANNEL, NOWHERE)

    with pytest.raises(Forbidden):
        await hotline["ana"].add_webhook(CHANNEL, NOWHERE)
    with pytest.raises(Forbidden):
        await hotline["ana"].webhooks(CHANNEL)
    with pytest.raises(NotFound):
        await hotline["raj"].webhook(CHANNEL, made.id)
    assert await hotline["raj"].webhooks(CHANNEL) == []


async def test_a_private_address_is_refused_and_nothing_is_made(hotline: Clients) -> None:
    with pytest.raises(Invalid) as refused:
        await hotline["wanda"].add_webhook(CHANNEL, "http://10.0.0.7/hotline")

    assert refused.value.code == "webhook-address-refused"
    assert await hotline["wanda"].webhooks(CHANNEL) == []


async def test_an_operator_sets_and_clears_its_email_and_an_admin_sets_its_operators(
    hotline: Clients,
) -> None:
    ana = hotline["ana"]

    set_ = await ana.set_email("ana.lopez@water.example")
    me = await ana.me()
    by_admin = await hotline["wanda"].set_operator_email("ben", "ben.okafor@water.example")
    cleared = await ana.clear_email()

    assert (set_.operator, set_.email) == ("ana", "ana.lopez@water.example")
    assert me.email == "ana.lopez@water.example"
    assert by_admin.email == "ben.okafor@water.example"
    assert (await hotline["ben"].me()).email == "ben.okafor@water.example"
    assert cleared.email is None
    assert (await ana.me()).email is None


async def test_an_email_address_is_checked_and_others_addresses_are_not_anyones(
    hotline: Clients,
) -> None:
    ana = hotline["ana"]
    await ana.set_email("ana.lopez@water.example")

    with pytest.raises(Invalid):
        await ana.set_email("not an address")
    with pytest.raises(Forbidden):
        await ana.set_operator_email("ben", "ben@water.example")
    with pytest.raises(NotFound):
        await hotline["wanda"].set_operator_email("carla", "carla@roads.example")

    assert (await ana.me()).email == "ana.lopez@water.example"
