"""The outbox end to end: a real server process, a real HTTP receiver, a real SMTP server.

The receiver is the example of docs/examples/webhook-receiver/receiver.py, run on a thread
of this process: it checks each call's Standard Webhooks signature, drops a repeat by its
``webhook-id``, and can answer ``503`` to its first calls (``fail_first``). The SMTP server
is aiosmtpd (``tests/smtp.py``). Every wait is bounded, and waits on what it waits for:
the receiver's calls, the mailbox's mail, the delivery log as the REST API serves it.

- A receiver that fails three times, then accepts, gets the event once accepted: four
  calls, the same ``webhook-id`` each time, and four attempts in the delivery log.
- A server killed (SIGKILL) after the event was committed and before it was delivered
  delivers it after a restart: whether it was waiting to try again (the receiver was not
  listening yet), or in the middle of a call (the receiver took the call; the server never
  heard it was answered, so it calls again, and the receiver drops the repeat).
- An escalation is mailed to the operator it escalates to.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from server.service import demo
from tests.e2e.clock_helpers import QUICK, prepare, send_urgent
from tests.e2e.conftest import Demo, Launcher
from tests.smtp import Mailbox

RECEIVER_PATH = Path(__file__).parents[2] / "docs" / "examples" / "webhook-receiver" / "receiver.py"
WAIT = 30.0
"""Seconds a delivery may take to arrive (a server starting, a retry or two)."""
STEP = 10.0
"""Seconds any one request may take."""
LOOPBACK = {"HOTLINE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
"""The receiver is on this machine: webhooks may call loopback addresses."""


def _load_receiver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


receiver_example = _load_receiver()


class Recorder(receiver_example.Receiver):  # type: ignore[misc, name-defined]
    """The example receiver, noting each call's ``webhook-id`` and able to hold the first."""

    def __init__(self, secret: str, *, fail_first: int = 0, hold_first: bool = False) -> None:
        super().__init__([secret], fail_first=fail_first, out=None)
        self.ids: list[str] = []
        self.hold = threading.Event()
        """Set: the held first call may be answered."""
        if not hold_first:
            self.hold.set()

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        with self.changed:
            self.ids.append(headers["webhook-id"])
            self.changed.notify_all()
            first = len(self.ids) == 1
        if first:
            self.hold.wait(WAIT)
        answer: tuple[int, str] = super().handle(headers, body)
        return answer

    async def until(self, done: Callable[[Recorder], bool], within: float = WAIT) -> None:
        """Wait until ``done(self)`` holds, checked after every call; fail after ``within``."""

        def wait() -> None:
            with self.changed:
                if not self.changed.wait_for(lambda: done(self), within):
                    raise TimeoutError(f"the receiver waited {within} s: {self.ids}")

        await asyncio.to_thread(wait)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections until the block ends (bound, not listening)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@contextlib.contextmanager
def receiving(receiver: Recorder, port: int) -> Iterator[None]:
    """The example's HTTP server on ``port``, answering with ``receiver``, on a thread."""
    server = receiver_example.make_server(("127.0.0.1", port), receiver)
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield
    finally:
        receiver.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(STEP)


async def subscribe(server: Demo, port: int, types: list[str]) -> dict[str, Any]:
    """Water's admin subscribes to the demo channel's events at ``http://127.0.0.1:<port>/``."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        response = await http.post(
            f"/api/v1/channels/{server.channel}/webhooks",
            headers=server.auth("wanda"),
            json={"url": f"http://127.0.0.1:{port}/hotline", "types": types},
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def send_notice(server: Demo) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        body = {"id": str(uuid.uuid4()), "subject": "Water main renewal, Mill Lane"}
        response = await http.post(server.notices, headers=server.auth("ana"), json=body)
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def delivery_log(server: Demo, webhook: str) -> list[dict[str, Any]]:
    """The subscription's deliveries, newest first, each with its attempts."""
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        response = await http.get(
            f"/api/v1/channels/{server.channel}/webhooks/{webhook}/deliveries",
            headers=server.auth("wanda"),
        )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def until_logged(
    server: Demo, webhook: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The delivery log once ``done`` holds for it; fails after ``WAIT`` seconds.

    The log is in the database: nothing announces a change, so it is read again every
    20 ms until it shows what the test waits for.
    """
    async with asyncio.timeout(WAIT):
        while not done(log := await delivery_log(server, webhook)):  # noqa: ASYNC110 - no event says so
            await asyncio.sleep(0.02)
    return log


def attempts_of(log: list[dict[str, Any]]) -> list[tuple[bool, int | None]]:
    [delivery] = log
    return [(a["ok"], a["status_code"]) for a in delivery["attempts"]]


# -- retries ---------------------------------------------------------------------------


async def test_a_receiver_that_fails_three_times_gets_the_event_once_with_one_id(
    launch: Launcher,
) -> None:
    env = {
        **LOOPBACK,
        "HOTLINE_DELIVERY_BACKOFF_SECONDS": "0.05",  # retries in a fraction of a second
        "HOTLINE_DELIVERY_BACKOFF_MAX_SECONDS": "1",
    }
    server = launch.demo(env=env)
    with closed_port() as port:
        hook = await subscribe(server, port, ["notice.sent"])
    receiver = Recorder(hook["secret"], fail_first=3)

    with receiving(receiver, port):
        notice = await send_notice(server)
        await receiver.until(lambda r: len(r.received) == 1)
        log = await until_logged(server, hook["id"], lambda log: log[0]["status"] != "waiting")

    [payload] = receiver.received
    assert payload["type"] == "notice.sent"
    assert payload["data"]["data"]["notice"] == notice["id"]
    [delivery] = log
    assert delivery["status"] == "delivered"
    assert receiver.ids == [delivery["id"]] * 4, "four calls, the same webhook-id on each"
    assert attempts_of(log) == [(False, 503)] * 3 + [(True, 204)]


# -- killed between commit and delivery -------------------------------------------------


async def test_a_delivery_waiting_to_be_tried_again_is_delivered_after_a_kill_and_restart(
    database_url: str, launch: Launcher
) -> None:
    env = {**LOOPBACK, "HOTLINE_DELIVERY_BACKOFF_SECONDS": "2"}
    first = launch.demo(database_url, env=env)
    with closed_port() as port:
        hook = await subscribe(first, port, ["notice.sent"])
        notice = await send_notice(first)
        # The receiver is not listening yet: the first call fails, the delivery waits.
        await until_logged(first, hook["id"], lambda log: bool(log and log[0]["attempts"]))
        first.process.kill()
    receiver = Recorder(hook["secret"])

    with receiving(receiver, port):
        second = launch.demo(database_url, env=env)
        await receiver.until(lambda r: len(r.received) == 1)
        log = await until_logged(second, hook["id"], lambda log: log[0]["status"] != "waiting")

    [payload] = receiver.received
    assert payload["data"]["data"]["notice"] == notice["id"]
    [delivery] = log
    assert delivery["status"] == "delivered"
    assert receiver.ids == [delivery["id"]]
    tries = attempts_of(log)
    assert tries[-1] == (True, 204)
    assert all(not ok for ok, _ in tries[:-1]), "every try before the restart failed"


async def test_a_server_killed_in_the_middle_of_a_call_calls_again_after_restart(
    database_url: str, launch: Launcher
) -> None:
    env = {**LOOPBACK, "HOTLINE_DELIVERY_LEASE_SECONDS": "4"}
    first = launch.demo(database_url, env=env)
    with closed_port() as port:
        hook = await subscribe(first, port, ["notice.sent"])
    receiver = Recorder(hook["secret"], hold_first=True)

    with receiving(receiver, port):
        notice = await send_notice(first)
        await receiver.until(lambda r: len(r.ids) == 1)  # the call is in the receiver's hands
        first.process.kill()
        receiver.hold.set()  # it takes the call, and answers a server that is gone
        second = launch.demo(database_url, env=env)
        await receiver.until(lambda r: len(r.ids) == 2)
        log = await until_logged(second, hook["id"], lambda log: log[0]["status"] != "waiting")

    [payload] = receiver.received
    assert payload["data"]["data"]["notice"] == notice["id"], "taken once: the repeat dropped"
    [delivery] = log
    assert receiver.ids == [delivery["id"]] * 2, "called again with the same webhook-id"
    assert delivery["status"] == "delivered"
    assert attempts_of(log) == [(True, 200)], "the killed call was never recorded"


# -- mail ------------------------------------------------------------------------------


async def test_an_escalation_is_mailed_to_the_operator_it_escalates_to(
    launch: Launcher, mailbox: Mailbox
) -> None:
    await prepare(launch.database_url, QUICK)  # urgent: escalated to dev 8 s after it is sent
    server = launch.demo(env=mailbox.env())
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        response = await http.put(
            "/api/v1/operators/dev/email",
            headers=server.auth("dev"),
            json={"email": "dev@roads.example"},
        )
        assert response.status_code == 200, response.text

    notice = await send_urgent(server.url, server.tokens["ana"])
    [mail] = await mailbox.wait_for(1, within=WAIT)

    assert mail.rcpt_tos == ("dev@roads.example",)
    assert "Escalated" in str(mail.message["Subject"])
    assert notice["id"] in mail.text() or notice["subject"] in mail.text()
    async with httpx.AsyncClient(base_url=server.url, timeout=STEP) as http:
        response = await http.get(
            f"/api/v1/channels/{demo.CHANNEL}/deliveries",
            headers=server.auth("raj"),
            params={"kind": "mail"},
        )
    assert response.status_code == 200, response.text
    [delivery] = response.json()["items"]
    assert delivery["target"] == "operator:dev"
    assert str(mail.message["Message-ID"]).startswith(f"<{delivery['id']}@")
