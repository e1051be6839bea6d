"""The webhook sender against real HTTP receivers on 127.0.0.1, on SQLite and PostgreSQL.

The receiver of docs/examples/webhook-receiver runs in a thread of the test: what it
verifies with the ``standardwebhooks`` package is what a real receiver would. Receivers
that misbehave on purpose (redirect, answer without end, never answer) are a few lines of
asyncio each, below. Loopback is allowed, as an administrator would allow a network of
its own; a resolver of the test's plays DNS where a name is needed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import ssl
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from ipaddress import ip_address, ip_network
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import event, select

from client.protocol import schemas
from client.protocol.vocabulary import EventType, Role
from server.config import Settings
from server.domain.address_guard import IPAddress
from server.domain.model import Actor, NoticeContent
from server.domain.rules import SendNotice
from server.metrics import Metrics
from server.secrets import SecretBox
from server.service import commands, demo, webhooks
from server.service.deliveries import Outgoing, Sent
from server.service.destinations import Guard
from server.store.db import Database
from server.store.models import ChannelRow, DeliveryRow, WebhookRow
from server.store.repository import Repository
from tests.tls import Authority

WANDA = Actor(party="water", operator="wanda", role=Role.ADMIN)
ANA = Actor(party="water", operator="ana", role=Role.OPERATOR)
LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
NOWHERE = "http://127.0.0.1:9/"  # discard: where a subscription points until its receiver runs
RECEIVER_PATH = Path(__file__).parents[2] / "docs" / "examples" / "webhook-receiver" / "receiver.py"


def receiver_example() -> ModuleType:
    """docs/examples/webhook-receiver/receiver.py, imported from where it stands."""
    name = "hotline_webhook_receiver_example"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, RECEIVER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def running(secrets: Sequence[str], *, fail_first: int = 0) -> Iterator[tuple[Any, str]]:
    """The example receiver, serving in a thread: itself and its URL."""
    example = receiver_example()
    receiver = example.Receiver(secrets, fail_first=fail_first, out=None)
    server = example.make_server(("127.0.0.1", 0), receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hotline"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Published:
    """A publisher that keeps what it is given (the fan-out's place)."""

    events: list[schemas.Event] = field(default_factory=list)

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        self.events.extend(events)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        webhook_allow_networks=list(LOOPBACK),
        webhook_timeout_seconds=1.0,
        webhook_max_response_bytes=4096,
        webhook_disable_after=3,
        delivery_attempts=4,
    )


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox.load_or_create(settings.secrets_key_file)


@pytest.fixture
async def seeded(db: Database) -> Database:
    await demo.seed(db)
    return db


@dataclass
class Line:
    """The demo channel, a subscription's sender, and shorthands."""

    db: Database
    settings: Settings
    box: SecretBox
    published: Published = field(default_factory=Published)

    def sender(
        self, guard: Guard | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> webhooks.WebhookSender:
        return webhooks.WebhookSender(
            self.db, self.settings, self.box, self.published, guard=guard, ssl_context=ssl_context
        )

    async def subscribe(self, url: str, guard: Guard | None = None) -> schemas.WebhookCreated:
        guard = guard or Guard.from_settings(self.settings)
        return await webhooks.subscribe(self.db, self.box, guard, WANDA, demo.CHANNEL, url=url)

    async def retarget(self, webhook_id: uuid.UUID, url: str) -> None:
        guard = Guard.from_settings(self.settings)
        await webhooks.change(self.db, guard, WANDA, demo.CHANNEL, webhook_id, url=url)

    async def notice(self) -> None:
        content = NoticeContent(subject="Water main renewal, Mill Lane")
        await commands.execute(
            self.db, SendNotice(uuid.uuid4(), content), channel_id=demo.CHANNEL, actor=ANA
        )

    async def deliveries(self, webhook_id: uuid.UUID) -> list[Outgoing]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.target == str(webhook_id))
                .order_by(DeliveryRow.seq)
            )
            return [
                Outgoing(
                    id=r.id,
                    kind=r.kind,
                    channel=r.channel_id,
                    seq=r.seq,
                    event_type=r.event_type,
                    target=r.target,
                    attempt=r.attempts + 1,
                )
                for r in rows.all()
            ]

    def last_try(self, delivery: Outgoing) -> Outgoing:
        """The delivery at its last try: failed, it is given up."""
        return replace(delivery, attempt=self.settings.delivery_attempts)

    async def status_of(self, delivery_id: uuid.UUID) -> tuple[str, str | None]:
        async with self.db.session() as session:
            row = await session.get(DeliveryRow, delivery_id)
            assert row is not None
            return row.status, row.last_error

    async def webhook(self, webhook_id: uuid.UUID) -> WebhookRow:
        async with self.db.session() as session:
            row = await session.get(WebhookRow, webhook_id)
            assert row is not None
            return row

    async def channel_targets(self) -> str:
        async with self.db.session() as session:
            text = await session.scalar(
                select(ChannelRow.webhooks).where(ChannelRow.id == demo.CHANNEL)
            )
        assert text is not None
        return text

    async def log(self) -> list[schemas.Event]:
        async with self.db.session() as session:
            return await Repository(session).log(demo.CHANNEL, after=0, limit=1000)


@pytest.fixture
async def line(seeded: Database, settings: Settings, box: SecretBox) -> Line:
    return Line(seeded, settings, box)


async def one_call(line: Line, url: str, sender: webhooks.WebhookSender | None = None) -> Sent:
    """Subscribe ``url``, log a notice, and make the call it owes."""
    created = await line.subscribe(url)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    sender = sender or line.sender()
    try:
        return await sender.send(delivery)
    finally:
        await sender.aclose()


# -- receivers that misbehave --------------------------------------------------------------


Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    url: str
    requests: list[bytes]


@asynccontextmanager
async def raw_server(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[RawServer]:
    """An HTTP server of a few lines: reads one request, then lets ``answer`` write."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            requests.append(head + await reader.readexactly(length))
            await answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        yield RawServer(f"{scheme}://127.0.0.1:{port}/hook", requests)
    finally:
        server.close()


# -- the tests -----------------------------------------------------------------------------


async def test_a_call_is_signed_so_that_the_receiver_example_verifies_it(line: Line) -> None:
    created = await line.subscribe(NOWHERE)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    with running([created.secret]) as (receiver, url):
        await line.retarget(created.id, url)
        sender = line.sender()

        sent = await sender.send(delivery)
        again = await sender.send(delivery)  # as if the worker died before recording it
        await sender.aclose()

    assert sent == Sent(ok=True, status_code=204)
    assert again == Sent(ok=True, status_code=200)  # the receiver knew the webhook-id
    [payload] = receiver.received
    [event] = await line.log()
    assert payload == {
        "type": "notice.sent",
        "timestamp": event.model_dump(mode="json")["at"],
        "data": event.model_dump(mode="json"),
    }


async def test_no_secret_reaches_the_logs(line: Line, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = await line.subscribe(NOWHERE)
    rotated = await webhooks.rotate(
        line.db, line.box, WANDA, demo.CHANNEL, created.id, overlap=timedelta(hours=1)
    )
    with running([rotated.secret], fail_first=1) as (_, url):
        await line.retarget(created.id, url)
        await line.notice()
        [delivery] = await line.deliveries(created.id)
        sender = line.sender()
        assert not (await sender.send(delivery)).ok
        assert (await sender.send(delivery)).ok
        await sender.aclose()

    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for secret in (created.secret, rotated.secret):
        assert secret.removeprefix("whsec_") not in logged


async def test_during_a_rotation_the_old_and_the_new_secret_both_verify(line: Line) -> None:
    created = await line.subscribe(NOWHERE)
    rotated = await webhooks.rotate(
        line.db, line.box, WANDA, demo.CHANNEL, created.id, overlap=timedelta(hours=1)
    )
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    for secret in (created.secret, rotated.secret):
        with running([secret]) as (receiver, url):
            await line.retarget(created.id, url)
            sender = line.sender()
            sent = await sender.send(delivery)
            await sender.aclose()
        assert sent.ok, sent
        assert len(receiver.received) == 1


async def test_without_overlap_the_old_secret_no_longer_verifies(line: Line) -> None:
    created = await line.subscribe(NOWHERE)
    await webhooks.rotate(line.db, line.box, WANDA, demo.CHANNEL, created.id, overlap=timedelta(0))
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    with running([created.secret]) as (receiver, url):
        await line.retarget(created.id, url)
        sender = line.sender()
        sent = await sender.send(delivery)
        await sender.aclose()

    assert sent == Sent(ok=False, status_code=401, error="HTTP 401")
    assert receiver.received == []


async def test_a_redirect_is_a_failure_and_is_not_followed(line: Line) -> None:
    async def nowhere(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with raw_server(nowhere) as elsewhere:

        async def redirect(writer: asyncio.StreamWriter) -> None:
            writer.write(
                f"HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere.url}\r\n"
                "content-length: 0\r\n\r\n".encode()
            )

        async with raw_server(redirect) as receiver:
            sent = await one_call(line, receiver.url)

    assert sent.ok is False
    assert sent.status_code == 307
    assert sent.error is not None
    assert "redirects are not followed" in sent.error
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []


async def test_an_answer_without_end_is_read_only_up_to_the_limit(line: Line) -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n")
        chunk = b"x" * 65536
        while True:  # a terabyte: whoever reads it all runs out of time first
            writer.write(chunk)
            await writer.drain()

    async with raw_server(endless) as receiver:
        async with asyncio.timeout(line.settings.webhook_timeout_seconds * 3):
            sent = await one_call(line, receiver.url)

    assert sent == Sent(ok=True, status_code=200)


async def test_a_receiver_that_does_not_answer_in_time_fails_the_call(line: Line) -> None:
    never = asyncio.Event()

    async def silent(writer: asyncio.StreamWriter) -> None:
        await never.wait()

    async with raw_server(silent) as receiver:
        started = asyncio.get_running_loop().time()
        sent = await one_call(line, receiver.url)
        took = asyncio.get_running_loop().time() - started

    assert sent.ok is False
    assert sent.status_code is None
    assert not sent.permanent
    assert sent.error is not None
    assert "no answer within" in sent.error
    assert took < line.settings.webhook_timeout_seconds + 2


async def test_deliveries_given_up_in_a_row_disable_the_subscription_and_the_log_says_so(
    line: Line,
) -> None:
    with running(["whsec_" + "A" * 43 + "="], fail_first=100) as (receiver, url):
        created = await line.subscribe(url)  # failing anyway: which secret is no matter
        for _ in range(4):
            await line.notice()
        deliveries = await line.deliveries(created.id)
        sender = line.sender()
        results = [await sender.send(line.last_try(d)) for d in deliveries[:3]]
        late = await sender.send(deliveries[3])
        await sender.aclose()

    assert [(r.ok, r.status_code, r.permanent) for r in results] == [
        (False, 503, False),
        (False, 503, False),
        (False, 503, True),
    ]
    assert receiver.calls == 3
    row = await line.webhook(created.id)
    assert row.enabled is False
    assert row.failures == 3
    assert row.disabled_reason == "3 deliveries given up in a row; the last: HTTP 503"
    assert await line.channel_targets() == "[]"
    assert await line.status_of(deliveries[3].id) == ("failed", "subscription disabled")
    assert late == Sent(ok=False, permanent=True, error="subscription disabled")
    disabled = (await line.log())[-1]
    assert disabled.type is EventType.WEBHOOK_DISABLED
    assert disabled.actor is None
    assert disabled.data == {
        "webhook": str(created.id),
        "party": "water",
        "failures": 3,
        "reason": "3 deliveries given up in a row; the last: HTTP 503",
    }
    assert [e.seq for e in line.published.events] == [disabled.seq]
    assert await line.deliveries(created.id) == deliveries  # webhook.disabled: not to it


async def test_a_burst_of_failed_tries_while_the_receiver_is_away_disables_nothing(
    line: Line,
) -> None:
    # A receiver redeploying for a few seconds as ten events go out: each delivery's first
    # try fails, more than HOTLINE_WEBHOOK_DISABLE_AFTER of them, but none is given up.
    with running(["whsec_" + "A" * 43 + "="], fail_first=100) as (receiver, url):
        created = await line.subscribe(url)
        for _ in range(10):
            await line.notice()
        deliveries = await line.deliveries(created.id)
        sender = line.sender()
        results = [await sender.send(d) for d in deliveries]
        await sender.aclose()

    assert receiver.calls == 10
    assert {(r.ok, r.status_code, r.permanent) for r in results} == {(False, 503, False)}
    row = await line.webhook(created.id)
    assert (row.enabled, row.failures, row.disabled_reason) == (True, 0, None)
    assert [e.type for e in await line.log()].count(EventType.WEBHOOK_DISABLED) == 0
    assert line.published.events == []
    assert {await line.status_of(d.id) for d in deliveries} == {("waiting", None)}


async def test_a_call_that_goes_through_resets_the_deliveries_given_up_in_a_row(
    line: Line,
) -> None:
    created = await line.subscribe(NOWHERE)
    with running([created.secret], fail_first=2) as (receiver, url):
        await line.retarget(created.id, url)
        for _ in range(3):
            await line.notice()
        deliveries = await line.deliveries(created.id)
        sender = line.sender()
        first = await sender.send(line.last_try(deliveries[0]))
        second = await sender.send(line.last_try(deliveries[1]))
        assert (await line.webhook(created.id)).failures == 2
        third = await sender.send(deliveries[2])
        await sender.aclose()

    assert (first.ok, second.ok, third.ok) == (False, False, True)
    assert (await line.webhook(created.id)).failures == 0
    assert len(receiver.received) == 1


async def test_a_call_that_goes_through_with_no_failures_to_forget_writes_nothing(
    line: Line,
) -> None:
    created = await line.subscribe(NOWHERE)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])  # (connection, cursor, statement, ...)

    with running([created.secret]) as (_, url):
        await line.retarget(created.id, url)
        sender = line.sender()
        event.listen(line.db.engine.sync_engine, "before_cursor_execute", executed)
        try:
            sent = await sender.send(delivery)
        finally:
            event.remove(line.db.engine.sync_engine, "before_cursor_execute", executed)
        await sender.aclose()

    assert sent.ok is True
    # A read at most (on SQLite on the side, none on the engine); nothing that writes: no
    # transaction to reset a count of failures already 0.
    writes = ("INSERT", "UPDATE", "DELETE")
    assert [q for q in statements if q.lstrip().upper().startswith(writes)] == []
    assert len(statements) <= 1


async def test_410_gone_disables_the_subscription_at_once(line: Line) -> None:
    async def gone(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 410 Gone\r\ncontent-length: 0\r\n\r\n")

    async with raw_server(gone) as receiver:
        sent = await one_call(line, receiver.url)

    assert sent == Sent(
        ok=False, status_code=410, error="HTTP 410: the receiver is gone", permanent=True
    )
    [webhook] = await webhooks.list_webhooks(line.db, WANDA, demo.CHANNEL)
    assert webhook.enabled is False
    assert webhook.disabled_reason == "the receiver answered 410 Gone"
    assert (await line.log())[-1].data["failures"] == 1


def resolver_of(*answers: list[str]) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    """A resolver that gives each answer in turn, then the last one for ever."""
    left = list(answers)

    async def resolve(host: str, port: int) -> list[IPAddress]:
        answer = left.pop(0) if len(left) > 1 else left[0]
        return [ip_address(a) for a in answer]

    return resolve


async def test_the_call_connects_to_the_address_checked_and_names_the_host(line: Line) -> None:
    async def accepted(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")

    async with raw_server(accepted) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        guard = Guard(allow=LOOPBACK, resolver=resolver_of(["127.0.0.1"]))
        created = await line.subscribe(f"http://hooks.test:{port}/in?party=water", guard)
        await line.notice()
        [delivery] = await line.deliveries(created.id)
        sender = line.sender(guard)
        sent = await sender.send(delivery)
        await sender.aclose()

    assert sent == Sent(ok=True, status_code=202)
    [request] = receiver.requests
    head = request.split(b"\r\n\r\n")[0].decode().lower().split("\r\n")
    assert head[0] == "post /in?party=water http/1.1"
    assert f"host: hooks.test:{port}" in head
    assert f"webhook-id: {delivery.id}" in head


async def test_an_https_call_connects_to_the_address_and_gives_tls_the_name(
    line: Line, tmp_path: Path
) -> None:
    authority = Authority.make(tmp_path, "hooks.test")

    async def accepted(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with raw_server(accepted, authority.server) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        guard = Guard(allow=LOOPBACK, resolver=resolver_of(["127.0.0.1"]))
        created = await line.subscribe(f"https://hooks.test:{port}/in", guard)
        await line.notice()
        [delivery] = await line.deliveries(created.id)
        sender = line.sender(guard, authority.client)
        sent = await sender.send(delivery)
        await line.retarget(created.id, f"https://127.0.0.1:{port}/in")  # no name to check
        refused = await sender.send(delivery)
        await sender.aclose()

    assert sent == Sent(ok=True, status_code=204)
    assert refused.ok is False
    assert refused.error is not None
    assert refused.error.startswith("cannot connect to 127.0.0.1: SSLCertVerificationError")
    assert len(receiver.requests) == 1


async def test_a_path_beyond_ascii_is_sent_percent_encoded(line: Line) -> None:
    async def accepted(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with raw_server(accepted) as receiver:
        sent = await one_call(line, receiver.url + "/stra\u00dfe?ort=K\u00f6ln")

    assert sent == Sent(ok=True, status_code=204)
    [request] = receiver.requests
    assert request.startswith(b"POST /hook/stra%C3%9Fe?ort=K%C3%B6ln HTTP/1.1\r\n")


async def test_a_name_that_resolves_elsewhere_at_call_time_is_not_called(line: Line) -> None:
    async def accepted(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with raw_server(accepted) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        # Public-looking when subscribed; a private address too when called (DNS rebinding).
        guard = Guard(
            allow=LOOPBACK, resolver=resolver_of(["127.0.0.1"], ["127.0.0.1", "10.0.0.7"])
        )
        created = await line.subscribe(f"http://hooks.test:{port}/", guard)
        await line.notice()
        [delivery] = await line.deliveries(created.id)
        sender = line.sender(guard)
        sent = await sender.send(delivery)
        await sender.aclose()

    assert sent.ok is False
    assert sent.permanent is True
    assert sent.error is not None
    assert "10.0.0.7 is a private address" in sent.error
    assert receiver.requests == []
    assert (await line.webhook(created.id)).failures == 1


async def test_a_name_that_does_not_resolve_at_call_time_is_tried_again(line: Line) -> None:
    async def unresolvable(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    resolving = Guard(allow=LOOPBACK, resolver=resolver_of(["127.0.0.1"]))
    created = await line.subscribe("http://hooks.test:9/", resolving)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    sender = line.sender(Guard(allow=LOOPBACK, resolver=unresolvable))

    sent = await sender.send(delivery)
    await sender.aclose()

    assert sent.ok is False
    assert sent.permanent is False
    assert sent.error == "hooks.test does not resolve: Name or service not known"


# -- what the channel's log says of a webhook disabled -------------------------------------


async def given_up_once(
    line: Line,
    url: str,
    guard: Guard | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Subscribe ``url``, and give up its first delivery on a server that disables a
    webhook at the first one: the ``webhook.disabled`` event's data and the row's reason."""
    created = await line.subscribe(url, guard)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    at_once = line.settings.model_copy(update={"webhook_disable_after": 1})
    sender = webhooks.WebhookSender(
        line.db, at_once, line.box, line.published, guard=guard, ssl_context=ssl_context
    )
    sent = await sender.send(line.last_try(delivery))
    await sender.aclose()
    assert sent.permanent, sent
    disabled = (await line.log())[-1]
    assert disabled.type is EventType.WEBHOOK_DISABLED
    return disabled.data, (await line.webhook(created.id)).disabled_reason


def names_nothing(data: dict[str, Any], *secrets: str) -> None:
    text = str(data)
    for secret in ("127.0.0.1", "10.0.0.7", "hooks.test", "internal", *secrets):
        assert secret not in text


UNAVAILABLE = b"backend warehouse-db.internal is down"
"""What a receiver's error page might say: none of the other party's business."""


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\n\r\n%s"
            % (len(UNAVAILABLE), UNAVAILABLE),
            "HTTP 503",
        ),
        (b"SSH-2.0-OpenSSH_9.6 gateway.internal\r\n\r\n", "not HTTP"),
        (None, "timed out"),
    ],
    ids=["an error status", "not HTTP", "no answer in time"],
)
async def test_the_log_says_in_a_word_why_a_webhook_was_disabled_quoting_no_receiver(
    line: Line, answer: bytes | None, kind: str
) -> None:
    never = asyncio.Event()

    async def answering(writer: asyncio.StreamWriter) -> None:
        if answer is None:
            await never.wait()
        else:
            writer.write(answer)
            await writer.drain()

    async with raw_server(answering) as receiver:
        data, detail = await given_up_once(line, receiver.url)

    assert data["reason"] == f"1 delivery given up in a row; the last: {kind}"
    names_nothing(data, "warehouse", "gateway", "OpenSSH")
    assert detail is not None
    assert detail.startswith("1 delivery given up in a row; the last: ")


async def test_the_log_does_not_name_the_address_a_connection_was_refused_at(
    line: Line,
) -> None:
    async with raw_server(lambda writer: asyncio.sleep(0)) as receiver:
        url = receiver.url  # closed once the block ends: nobody listens there any more

    data, detail = await given_up_once(line, url)

    assert data["reason"] == "1 delivery given up in a row; the last: connection refused"
    names_nothing(data)
    assert detail is not None
    assert "cannot connect to 127.0.0.1" in detail  # the party's own row keeps the detail


async def test_the_log_does_not_name_the_private_address_a_name_came_to_resolve_to(
    line: Line,
) -> None:
    guard = Guard(allow=LOOPBACK, resolver=resolver_of(["127.0.0.1"], ["10.0.0.7"]))

    data, detail = await given_up_once(line, "http://hooks.test:9/", guard)

    assert data["reason"] == "1 delivery given up in a row; the last: address refused"
    names_nothing(data)
    assert detail is not None
    assert "hooks.test resolves to 10.0.0.7 is a private address" in detail


async def test_the_log_says_tls_error_not_which_certificate(line: Line, tmp_path: Path) -> None:
    authority = Authority.make(tmp_path, "hooks.test")

    async def accepted(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with raw_server(accepted, authority.server) as receiver:
        # No name to check the certificate against, but the address: it is refused.
        url = receiver.url.replace("/hook", "/in")
        data, detail = await given_up_once(line, url, ssl_context=authority.client)

    assert data["reason"] == "1 delivery given up in a row; the last: TLS error"
    names_nothing(data, "hooks.test", "certificate")
    assert detail is not None
    assert "SSLCertVerificationError" in detail


async def test_removing_a_subscription_counts_the_deliveries_it_gives_up_as_failed(
    line: Line,
) -> None:
    created = await line.subscribe(NOWHERE)
    for _ in range(2):
        await line.notice()
    metrics = Metrics()

    await webhooks.remove(line.db, WANDA, demo.CHANNEL, created.id, metrics=metrics)

    failed = metrics.deliveries_failed.labels(kind="webhook")._value.get()
    assert failed == 2  # as the worker counts those it gives up
    assert metrics.deliveries_failed.labels(kind="mail")._value.get() == 0


async def test_a_removed_subscription_is_not_called(line: Line) -> None:
    created = await line.subscribe(NOWHERE)
    await line.notice()
    [delivery] = await line.deliveries(created.id)
    await webhooks.remove(line.db, WANDA, demo.CHANNEL, created.id)
    sender = line.sender()

    sent = await sender.send(delivery)
    await sender.aclose()

    assert sent == Sent(ok=False, permanent=True, error="subscription removed")
