"""The WebSocket endpoint of the real server process, over real sockets.

Guarantee 4 above all: events are pushed at least once, and a client that reconnects with
the last sequence number it has gets exactly what it missed, in order, whether its own
connection broke, the server restarted or was killed, or the client fell behind and was
told to go. Then presence, refusals as typed errors, and the rules of the handshake.

Most tests share one demo server (module scope), so they never assume where the log
starts: they ask for its head first and count from there. Tests that need other settings
(a small queue, a short hello timeout) share a second server; the restart tests have one
database each. The last test stops every server of the module and reads their logs.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from client.protocol.messages import CloseCode
from tests.e2e.ws_helpers import (
    STEP,
    DemoRun,
    DemoSite,
    NoticeStream,
    Peer,
    head_of,
    in_background,
    open_peer,
    read_log,
    small_buffer_socket,
)

STREAM_TIMEOUT = 120.0
"""Seconds a stream of a thousand or two notices may take, sent and received."""
BOGUS_TOKEN = "hl_" + "N0tAT0kenAtAll" * 3
FOREIGN_CHANNEL = "parks-roads"
"""A channel between roads and a third party: water's operators must not see it."""
SLOW_QUEUE = 20
"""The impatient server's ``HOTLINE_WS_QUEUE_SIZE``."""
HELLO_TIMEOUT = 1.0
"""The impatient server's ``HOTLINE_WS_HELLO_TIMEOUT``, in seconds."""
COMMAND_QUEUE = 2
"""The impatient server's ``HOTLINE_WS_COMMAND_QUEUE_SIZE``."""


@pytest.fixture(scope="module")
def sites() -> Iterator[list[DemoSite]]:
    """Every demo site this module starts, so that the last test can read all their logs."""
    started: list[DemoSite] = []
    yield started
    complaints = [complaint for site in started for complaint in site.stop_all()]
    assert not complaints, "a server did not shut down cleanly: " + "; ".join(complaints)


@pytest.fixture(scope="module")
def shared(sites: list[DemoSite], tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    """The demo with default settings, plus a channel that water is not part of."""
    site = DemoSite(tmp_path_factory.mktemp("ws-shared"))
    sites.append(site)
    site.start()
    site.admin("party", "create", "parks", "--name", "Parks Department")
    site.admin("channel", "create", FOREIGN_CHANNEL, "--party", "parks", "--party", "roads")
    return site


@pytest.fixture(scope="module")
def impatient(sites: list[DemoSite], tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    """A demo whose sockets may fall only a few messages behind, may have only a few
    commands waiting, and must say hello quickly."""
    site = DemoSite(
        tmp_path_factory.mktemp("ws-impatient"),
        settings={
            "HOTLINE_WS_QUEUE_SIZE": str(SLOW_QUEUE),
            "HOTLINE_WS_COMMAND_QUEUE_SIZE": str(COMMAND_QUEUE),
            "HOTLINE_WS_HELLO_TIMEOUT": str(HELLO_TIMEOUT),
        },
    )
    sites.append(site)
    site.start()
    return site


@pytest.fixture
def demo(shared: DemoSite) -> DemoRun:
    """The shared demo server as it runs now."""
    return shared.current


async def current_head(run: DemoRun) -> int:
    """The demo channel's last sequence number."""
    async with httpx.AsyncClient(base_url=run.url, timeout=STEP) as client:
        return await head_of(client, run, "ana")


async def send_notice(run: DemoRun, operator: str, subject: str) -> dict[str, Any]:
    """Send one notice over REST; returns the 201 answer's JSON."""
    async with httpx.AsyncClient(base_url=run.url, timeout=STEP) as client:
        response = await client.post(
            run.notices,
            headers=run.auth(operator),
            json={"id": str(uuid.uuid4()), "subject": subject},
        )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def is_answer(message: dict[str, Any]) -> bool:
    """Whether a message answers a command."""
    return message["type"] in {"result", "error"}


def is_presence(message: dict[str, Any]) -> bool:
    """Whether a message is a presence update."""
    return bool(message["type"] == "presence")


def carla_went_offline(peer: Peer) -> bool:
    """Whether ``peer`` saw carla (roads) online, then a presence without her."""
    online = ["carla" in p["online"].get("roads", []) for p in peer.presence]
    return True in online and not online[-1]


def seqs(*peers: Peer) -> list[int]:
    """The sequence numbers of every event the peers received, connection after connection."""
    return [event["seq"] for peer in peers for event in peer.events]


# -- pushed, acknowledged, received once -----------------------------------------------------


async def test_a_notice_sent_over_rest_is_pushed_and_acknowledged_over_the_socket(
    demo: DemoRun,
) -> None:
    head = await current_head(demo)
    async with (
        open_peer(demo, "ana", after=head) as sender,
        open_peer(demo, "carla", after=head) as receiver,
    ):
        sent = await send_notice(demo, "ana", "Water main renewal, Mill Lane")
        pushed = await receiver.reply()
        await receiver.send(
            {
                "type": "decide",
                "ref": "ack-mill-lane",
                "channel": demo.channel,
                "notice": sent["id"],
                "decision": "acknowledged",
            }
        )
        result = await receiver.receive_until(is_answer)
        await sender.events_up_to(head + 3)
    async with httpx.AsyncClient(base_url=demo.url, timeout=STEP) as client:
        logged = await read_log(client, demo, "ana", after=head)

    assert pushed["type"] == "event"
    assert pushed["event"]["seq"] == sent["seq"] == head + 1
    assert pushed["event"]["type"] == "notice.sent"
    assert pushed["event"]["actor"] == {"party": "water", "operator": "ana"}
    assert pushed["event"]["data"]["notice"] == sent["id"]
    assert result["type"] == "result", result
    assert result["ref"] == "ack-mill-lane"
    assert result["created"] is True
    assert result["notice"]["status"] == "acknowledged"
    assert [(e["seq"], e["type"], e["data"]["notice"]) for e in sender.events] == [
        (head + 1, "notice.sent", sent["id"]),
        (head + 2, "notice.received", sent["id"]),
        (head + 3, "notice.acknowledged", sent["id"]),
    ]
    assert sender.events == receiver.events == logged, "the socket serves the REST events"


async def test_a_receipt_from_two_clients_of_the_receiving_party_is_recorded_once(
    demo: DemoRun,
) -> None:
    head = await current_head(demo)
    async with (
        open_peer(demo, "ana", after=head) as sender,
        open_peer(demo, "carla", after=head) as carla,
        open_peer(demo, "dev", after=head) as dev,
    ):
        sent = await send_notice(demo, "ana", "Hydrant test, Station Road")
        for peer in (carla, dev):
            await peer.events_up_to(sent["seq"])
        receipt = {"type": "receipt", "channel": demo.channel, "notice": sent["id"]}
        await asyncio.gather(
            carla.send({**receipt, "ref": "carla-has-it"}),
            dev.send({**receipt, "ref": "dev-has-it"}),
        )
        results = [await peer.receive_until(is_answer) for peer in (carla, dev)]
        # Everything logged before this marker reaches the sender before the marker does.
        marker = await send_notice(demo, "ana", "Marker: nothing more about the hydrant")
        await sender.events_up_to(marker["seq"])

    assert [r["type"] for r in results] == ["result", "result"], results
    assert [r["ref"] for r in results] == ["carla-has-it", "dev-has-it"]
    assert sorted(r["created"] for r in results) == [False, True], "recorded once, not twice"
    first = next(r for r in results if r["created"])
    assert all(r["notice"]["receipt"] == first["notice"]["receipt"] for r in results)
    assert [(e["type"], e["data"]["notice"]) for e in sender.events] == [
        ("notice.sent", sent["id"]),
        ("notice.received", sent["id"]),
        ("notice.sent", marker["id"]),
    ]


# -- nothing missed: a broken connection, a restart, a kill, a slow consumer -----------------


async def test_a_subscriber_cut_off_mid_stream_resumes_from_its_last_seq_and_misses_nothing(
    demo: DemoRun,
) -> None:
    head = await current_head(demo)
    stream = NoticeStream(demo, "ana", count=1000)
    async with (
        open_peer(demo, "carla", after=head) as before,
        in_background(stream.send_all()) as sending,
    ):
        await before.events_up_to(head + 300, within=STREAM_TIMEOUT)
        cut_while_sending = not sending.done()
        before.abort()  # no close frame: as if the network went away
        async with open_peer(demo, "carla", after=before.last_seq) as after:
            async with asyncio.timeout(STREAM_TIMEOUT):
                answers = await sending
            await after.events_up_to(max(a.seq or 0 for a in answers), within=STREAM_TIMEOUT)

    assert cut_while_sending, "the cut should come while notices are still being sent"
    assert 300 <= before.last_seq - head < 1000
    assert [a.status for a in answers] == [201] * 1000
    assert seqs(before, after) == list(range(head + 1, head + 1001)), "in order, no gap, no repeat"
    received = {e["seq"]: e["data"]["notice"] for e in [*before.events, *after.events]}
    assert received == {a.seq: a.notice for a in answers}
    assert {e["type"] for e in [*before.events, *after.events]} == {"notice.sent"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_every_notice_answered_before_a_restart_reaches_the_subscriber_in_order(
    sites: list[DemoSite], tmp_path: Path, sig: signal.Signals
) -> None:
    site = DemoSite(tmp_path)
    sites.append(site)
    first = site.start()
    stream = NoticeStream(first, "ana", count=20_000, stop_on_failure=True)
    async with (
        open_peer(first, "carla", after=0) as before,
        in_background(before.read_until_closed(within=STREAM_TIMEOUT)) as reading,
        in_background(stream.send_all()) as sending,
    ):
        await stream.wait_for_created(200, within=STREAM_TIMEOUT)
        status = await asyncio.to_thread(first.stop, sig)
        async with asyncio.timeout(STEP):
            answers = await sending
            closed = await reading
    second = site.start()
    async with httpx.AsyncClient(base_url=second.url, timeout=STEP) as client:
        logged = await read_log(client, second, "carla")
    async with open_peer(second, "carla") as after:
        head = await after.subscribe(second.channel, after=before.last_seq)
        if head > before.last_seq:
            await after.events_up_to(head, within=STREAM_TIMEOUT)

    created = {a.notice for a in answers if a.status == 201}
    print(f"\n{sig.name}: {len(created)} answered 201, B's socket closed with {closed.rcvd}")
    if sig is signal.SIGTERM:
        assert first.shut_down_gracefully(status), f"status {status}"
    else:
        assert status == -signal.SIGKILL
    assert any(a.status is None for a in answers), "the stop should cut the stream short"
    assert isinstance(closed, ConnectionClosed)
    assert [e["seq"] for e in logged] == list(range(1, len(logged) + 1))
    assert created <= {e["data"]["notice"] for e in logged}, "a notice answered 201 was lost"
    assert seqs(before, after) == list(range(1, head + 1)), "in order, no gap, no repeat"
    assert [*before.events, *after.events] == logged
    log = site.log_text()
    assert log
    assert not [token for token in site.tokens_ever_issued() if token in log]


async def test_a_server_shutting_down_closes_its_sockets_with_1012_service_restart(
    sites: list[DemoSite], tmp_path: Path
) -> None:
    site = DemoSite(tmp_path)
    sites.append(site)
    run = site.start()
    async with (
        open_peer(run, "carla", after=0) as peer,
        in_background(peer.read_until_closed(within=STREAM_TIMEOUT)) as reading,
    ):
        status = await asyncio.to_thread(run.stop)
        async with asyncio.timeout(STEP):
            closed = await reading

    assert run.shut_down_gracefully(status)
    assert closed.rcvd is not None
    assert closed.rcvd.code == CloseCode.SERVICE_RESTART


async def test_a_consumer_that_stops_reading_is_closed_with_4429_and_slows_no_one(
    impatient: DemoSite,
) -> None:
    """A sends large, incompressible notices until the server lets the slow consumer go
    (its fellow operator sees it leave in presence), then a hundred more."""
    run = impatient.current
    head = await current_head(run)
    stream = NoticeStream(run, "ana", count=10_000, body_size=9000)
    tiny = await small_buffer_socket(run)
    async with (
        # max_queue=1 and a tiny receive buffer: once this client stops reading, what the
        # server writes backs up within a few megabytes instead of dozens.
        open_peer(run, "carla", after=head, sock=tiny, max_queue=1, ping_interval=None) as slow,
        open_peer(run, "dev", after=head) as fast,
        in_background(fast.read_until_closed(within=STREAM_TIMEOUT)),
        in_background(stream.send_all()) as sending,
    ):
        await fast.wait_until(lambda: carla_went_offline(fast), within=STREAM_TIMEOUT)
        await stream.wait_for_created(len(stream.created) + 100, within=STREAM_TIMEOUT)
        stream.finish()
        async with asyncio.timeout(STREAM_TIMEOUT):
            answers = await sending
        last = max(a.seq or 0 for a in answers)
        await fast.wait_until(lambda: fast.last_seq >= last, within=STREAM_TIMEOUT)
        # Only now does the slow consumer read: what was buffered, then the close.
        closed = await slow.read_until_closed(within=STREAM_TIMEOUT)
    async with open_peer(run, "carla", after=slow.last_seq) as again:
        await again.events_up_to(last, within=STREAM_TIMEOUT)

    arrived = dict(zip(seqs(fast), fast.arrivals, strict=True))
    lag = arrived[last] - max(a.at for a in answers)
    worst = max(arrived[a.seq] - a.at for a in answers if a.seq is not None)
    print(
        f"\n{len(answers)} notices; the slow consumer had {slow.last_seq - head} events "
        f"when it was closed; the fast one's last event came {lag * 1000:+.1f} ms after "
        f"the last 201, and no event more than {worst * 1000:+.1f} ms after its own 201"
    )
    assert [a.status for a in answers] == [201] * len(answers)
    assert closed.rcvd is not None, "the server should close with a code, not drop the line"
    assert closed.rcvd.code == 4429
    assert seqs(fast)[: last - head] == list(range(head + 1, last + 1))
    assert lag < 1.0, f"the fast consumer fell {lag:.2f} s behind the sender"
    assert worst < 1.0, f"the fast consumer fell {worst:.2f} s behind the sender"
    assert seqs(slow, again) == list(range(head + 1, last + 1))
    assert slow.last_seq < last, "the slow consumer was cut off before the end"


# -- presence ------------------------------------------------------------------------------


async def test_the_sender_sees_the_receiving_operator_come_online_and_go(demo: DemoRun) -> None:
    head = await current_head(demo)
    async with open_peer(demo, "ana", after=head) as sender:
        alone = await sender.receive_until(is_presence)
        async with open_peer(demo, "carla", after=head):
            joined = await sender.receive_until(is_presence)
        left = await sender.receive_until(is_presence)

    assert alone == {"type": "presence", "channel": demo.channel, "online": {"water": ["ana"]}}
    assert joined["online"] == {"roads": ["carla"], "water": ["ana"]}
    assert left["online"] == {"water": ["ana"]}


async def test_a_second_socket_of_an_operator_online_tells_no_one_else(demo: DemoRun) -> None:
    """Presence is about people: ana's second console learns who is online, and the
    sockets already there hear nothing until someone new (dev) comes."""
    head = await current_head(demo)
    async with open_peer(demo, "ana", after=head) as ana:
        await ana.receive_until(is_presence)
        async with open_peer(demo, "carla", after=head) as carla:
            arrived = await carla.receive_until(is_presence)
            await ana.receive_until(is_presence)
            async with open_peer(demo, "ana", after=head) as laptop:
                told = await laptop.receive_until(is_presence)
                async with open_peer(demo, "dev", after=head):
                    next_for_ana = await ana.receive_until(is_presence)
                    next_for_carla = await carla.receive_until(is_presence)

    both = {"roads": ["carla"], "water": ["ana"]}
    assert arrived["online"] == both
    assert told["online"] == both
    assert next_for_ana["online"] == {"roads": ["carla", "dev"], "water": ["ana"]}
    assert next_for_carla == next_for_ana


# -- commands queue behind each other; the socket keeps reading ------------------------------


async def test_a_ping_behind_hundreds_of_commands_is_answered_before_them(demo: DemoRun) -> None:
    """The server reads on while a socket's commands run, so pongs never wait behind them
    (a reader that waited for each command would close a busy client with 1011)."""
    sent = await send_notice(demo, "ana", "Meter reading, Station Road")
    count = 400
    order: list[str] = []
    async with open_peer(demo, "carla") as peer:
        # Corked, the commands leave in as few TCP segments as they fit in, so that the
        # server reads them all at once; the ping comes after, on its own.
        tcp = peer.connection.transport.get_extra_info("socket")
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        for number in range(count):
            receipt = {"type": "receipt", "channel": demo.channel, "notice": sent["id"]}
            await peer.send({**receipt, "ref": f"r{number}"})
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        order.append((await peer.reply())["ref"])  # the server is busy with them by now
        pong = await peer.connection.ping()
        pong.add_done_callback(lambda _: order.append("pong"))
        while len(order) < count + 1:
            order.append((await peer.reply())["ref"])

    answers = [ref for ref in order if ref != "pong"]
    assert answers == [f"r{number}" for number in range(count)]
    assert order.index("pong") < count // 2, f"the pong came after {order.index('pong')}"


async def test_commands_beyond_the_queue_are_refused_at_once_and_the_rest_answered_in_order(
    impatient: DemoSite,
) -> None:
    run = impatient.current
    sent = await send_notice(run, "ana", "Lane closure, Bridge Street")
    count = SLOW_QUEUE // 2  # answers, refusals included, never fill the socket's queue
    async with open_peer(run, "carla") as peer:
        tcp = peer.connection.transport.get_extra_info("socket")
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # read by the server at once
        for number in range(count):
            receipt = {"type": "receipt", "channel": run.channel, "notice": sent["id"]}
            await peer.send({**receipt, "ref": f"r{number}"})
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        answers = [await peer.reply() for _ in range(count)]
        await expect_still_open(peer, run)

    refused = [a for a in answers if a["type"] == "error"]
    done = [a["ref"] for a in answers if a["type"] == "result"]
    assert refused, "a client this far ahead should have been refused"
    assert {(a["status"], a["code"]) for a in refused} == {(429, "too-many-commands")}
    assert sorted(a["ref"] for a in answers) == sorted(f"r{number}" for number in range(count))
    assert done == sorted(done, key=lambda ref: int(ref[1:])), "results out of order"


# -- refusals are typed errors, and the socket stays open ------------------------------------

MALFORMED: dict[str, str | bytes] = {
    "text-not-json": "hello? is anyone there?",
    "json-without-type": json.dumps({"channel": "water-roads", "after": 0}),
    "json-array": "[1, 2, 3]",
    "unknown-type": json.dumps({"type": "shout", "text": "dig here"}),
    "decide-with-bad-uuid": json.dumps(
        {
            "type": "decide",
            "ref": "bad-uuid",
            "channel": "water-roads",
            "notice": "not-a-uuid",
            "decision": "acknowledged",
        }
    ),
    "binary-garbage": b"\x00\xff\xfe\x80 garbage",
}


async def expect_still_open(peer: Peer, run: DemoRun) -> None:
    """A valid message after a refusal still works: the socket stayed open."""
    head = await current_head(run)
    assert await peer.subscribe(run.channel, after=head) == head


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_message_gets_an_invalid_message_error_and_the_socket_stays_open(
    demo: DemoRun, payload: str | bytes
) -> None:
    async with open_peer(demo, "ana") as peer:
        await peer.send(payload)
        error = await peer.reply()
        await expect_still_open(peer, demo)

    assert error["type"] == "error"
    assert (error["status"], error["code"]) == (422, "invalid-message")
    assert error["errors"], "the error should say what is wrong"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(json.dumps({"type": "hello", "token": "x" * 70_000}), id="ascii"),
        pytest.param(
            json.dumps({"type": "hello", "token": "é" * 40_000}, ensure_ascii=False),
            id="40000-characters-80000-bytes",
        ),
    ],
)
async def test_a_message_over_the_size_limit_gets_a_typed_error_and_the_socket_stays_open(
    demo: DemoRun, text: str
) -> None:
    assert len(text.encode()) > 65_536
    async with open_peer(demo, "ana") as peer:
        await peer.send(text)
        error = await peer.reply()
        await expect_still_open(peer, demo)

    assert error["type"] == "error"
    assert (error["status"], error["code"]) == (413, "message-too-large")


async def test_a_message_far_over_the_limit_closes_the_socket_with_1009(demo: DemoRun) -> None:
    async with open_peer(demo, "ana") as peer:
        await peer.send("x" * (16 * 65_536 + 1))  # beyond what the protocol layer reads
        closed = await peer.read_until_closed()

    assert closed.rcvd is not None
    assert closed.rcvd.code == 1009
    assert [m["type"] for m in peer.received] == ["welcome"]


async def test_subscribing_twice_to_a_channel_is_refused_as_already_subscribed(
    demo: DemoRun,
) -> None:
    head = await current_head(demo)
    async with open_peer(demo, "ana", after=head) as peer:
        await peer.send({"type": "subscribe", "channel": demo.channel, "after": head})
        error = await peer.reply()

    assert error["type"] == "error"
    assert (error["status"], error["code"]) == (409, "already-subscribed")


async def test_a_subscriber_claiming_more_than_the_log_holds_is_refused(
    demo: DemoRun,
) -> None:
    """A client whose last seq is beyond the head (its server's log was restored from a
    backup, say) is told, rather than silently missing the events that take those numbers."""
    head = await current_head(demo)
    async with open_peer(demo, "carla") as peer:
        await peer.send(
            {"type": "subscribe", "ref": "ahead", "channel": "water-roads", "after": head + 3}
        )
        error = await peer.reply()
        await expect_still_open(peer, demo)

    assert error["type"] == "error"
    assert (error["status"], error["code"], error["ref"]) == (409, "ahead-of-log", "ahead")


@pytest.mark.parametrize("channel", [FOREIGN_CHANNEL, "no-such-channel"])
async def test_subscribing_to_a_channel_of_others_or_of_no_one_is_not_found(
    demo: DemoRun, channel: str
) -> None:
    async with open_peer(demo, "ana") as peer:
        await peer.send({"type": "subscribe", "ref": "peek", "channel": channel, "after": 0})
        error = await peer.reply()
        await expect_still_open(peer, demo)

    assert error["type"] == "error"
    assert (error["status"], error["code"], error["ref"]) == (404, "not-found", "peek")


async def test_a_second_hello_is_refused_as_already_authenticated(demo: DemoRun) -> None:
    async with open_peer(demo, "ana") as peer:
        await peer.send({"type": "hello", "token": demo.tokens["ben"]})
        error = await peer.reply()
        await expect_still_open(peer, demo)

    assert error["type"] == "error"
    assert (error["status"], error["code"]) == (409, "already-authenticated")


async def test_a_command_refused_by_the_rules_names_its_ref(demo: DemoRun) -> None:
    sent = await send_notice(demo, "ana", "Valve replacement, Elm Street")
    decide = {"type": "decide", "channel": demo.channel, "notice": sent["id"]}
    async with open_peer(demo, "ana") as peer:
        await peer.send({**decide, "ref": "own-notice", "decision": "acknowledged"})
        error = await peer.reply()

    assert error["type"] == "error"
    assert error["ref"] == "own-notice"
    assert error["status"] == 403


# -- the handshake: hello first, with a good token, in time ----------------------------------

NOT_A_HELLO: dict[str, str | bytes] = {
    "subscribe-first": json.dumps({"type": "subscribe", "channel": "water-roads", "after": 0}),
    "hello-with-bogus-token": json.dumps({"type": "hello", "token": BOGUS_TOKEN}),
    "text-not-json": "let me in",
    "binary-frame": b"\x01\x02\x03",
}


@pytest.mark.parametrize("first", NOT_A_HELLO.values(), ids=NOT_A_HELLO.keys())
async def test_a_socket_that_does_not_start_with_a_good_hello_is_closed_with_4401_unanswered(
    demo: DemoRun, first: str | bytes
) -> None:
    async with open_peer(demo) as peer:
        await peer.send(first)
        closed = await peer.read_until_closed()

    assert peer.received == [], "an unauthenticated socket is told nothing"
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4401


async def test_a_socket_that_says_nothing_is_closed_with_4408_after_the_hello_timeout(
    impatient: DemoSite,
) -> None:
    loop = asyncio.get_running_loop()
    async with open_peer(impatient.current) as peer:
        opened = loop.time()
        closed = await peer.read_until_closed(within=HELLO_TIMEOUT + STEP)
        waited = loop.time() - opened

    assert peer.received == []
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4408
    assert HELLO_TIMEOUT * 0.9 <= waited < HELLO_TIMEOUT + STEP


# -- last: the logs of every server of this module -------------------------------------------


def test_no_token_ever_appears_in_the_server_logs_and_nothing_went_wrong(
    sites: list[DemoSite], shared: DemoSite, impatient: DemoSite
) -> None:
    """Runs last: stops every server of the module so that their logs are complete."""
    stopped = [(run, run.stop()) for site in sites for run in site.runs if run.running]
    logs = {str(run.log): run.log.read_text() for site in sites for run in site.runs}
    tokens = {token for site in sites for token in site.tokens_ever_issued()} | {BOGUS_TOKEN}

    assert stopped
    assert all(run.shut_down_gracefully(status) for run, status in stopped), stopped
    assert all("serving" in text for text in logs.values()), "every server should have logged"
    errors = [
        line
        for text in logs.values()
        for line in text.splitlines()
        if json.loads(line)["level"] in {"error", "critical"}
    ]
    assert errors == []
    leaked = [(name, token[:8]) for name, text in logs.items() for token in tokens if token in text]
    assert leaked == [], "a token was written to a log"
