"""The SDK and the operator's command line against the real server process.

The demo's water utility (ana, ben) and roads department (carla, dev) share one channel.
Every wait is on the awaited thing itself, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from uuid import UUID

import pytest

from client import Closed, Conflict, HotlineClient, Subscription
from client.protocol.note import generate_key
from client.protocol.schemas import Event
from client.protocol.signatures import check_signatures
from client.protocol.vocabulary import EventType, Status
from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, clean_env

WAIT = 15.0
"""Seconds any one wait may take."""


def concerning(notice_id: UUID, kind: EventType) -> Callable[[Event], bool]:
    return lambda event: event.type is kind and event.data.get("notice") == str(notice_id)


async def next_matching(sub: Subscription, wanted: Callable[[Event], bool]) -> Event:
    """The first event that ``wanted`` accepts, within ``WAIT`` seconds."""
    async with asyncio.timeout(WAIT):
        async for event in sub:
            if wanted(event):
                return event
    raise AssertionError("the subscription ended before the event came")


# -- the SDK --------------------------------------------------------------------------------


async def test_a_notice_sent_over_rest_is_received_live_and_acknowledged_over_the_socket(
    server: Demo,
) -> None:
    async with (
        HotlineClient(server.url, server.tokens["ana"]) as ana,
        HotlineClient(server.url, server.tokens["carla"]) as carla,
        ana.subscribe([server.channel]) as water,
        carla.subscribe([server.channel]) as roads,
    ):
        sent = await ana.send(server.channel, subject="Water main renewal, Mill Lane")
        arrived = await next_matching(roads, concerning(sent.id, EventType.NOTICE_SENT))
        # Before anyone decides, carla's client confirms receipt by itself.
        received = await next_matching(roads, concerning(sent.id, EventType.NOTICE_RECEIVED))
        acknowledged = await roads.acknowledge(server.channel, sent.id)
        seen_by_water = await next_matching(
            water, concerning(sent.id, EventType.NOTICE_ACKNOWLEDGED)
        )
        detail = await ana.notice(server.channel, sent.id)

    assert arrived.data["subject"] == "Water main renewal, Mill Lane"
    assert arrived.actor is not None
    assert arrived.actor.operator == "ana"
    assert received.actor is not None
    assert received.actor.operator == "carla"
    assert acknowledged.status is Status.ACKNOWLEDGED
    assert seen_by_water.actor is not None
    assert seen_by_water.actor.operator == "carla"
    assert [e.type for e in detail.history] == [
        EventType.NOTICE_SENT,
        EventType.NOTICE_RECEIVED,
        EventType.NOTICE_ACKNOWLEDGED,
    ]


async def test_a_second_decision_over_the_socket_is_refused_with_the_first(server: Demo) -> None:
    async with (
        HotlineClient(server.url, server.tokens["ana"]) as ana,
        HotlineClient(server.url, server.tokens["carla"]) as carla,
        HotlineClient(server.url, server.tokens["dev"]) as dev,
    ):
        sent = await ana.send(server.channel, subject="Hydrant test, Elm Street")
        await carla.acknowledge(server.channel, sent.id)
        async with dev.subscribe([server.channel], confirm_receipts=False) as roads:
            with pytest.raises(Conflict) as raised:
                await roads.object(server.channel, sent.id, "Elm Street is closed that week")

    assert raised.value.code == "already-decided"
    assert raised.value.notice_id == sent.id
    assert raised.value.decision is not None
    assert raised.value.decision.operator == "carla"


async def test_a_restarted_subscriber_carries_on_from_its_resume_file(
    server: Demo, tmp_path: Path
) -> None:
    resume = tmp_path / "carla.json"
    async with (
        HotlineClient(server.url, server.tokens["ana"]) as ana,
        HotlineClient(server.url, server.tokens["carla"]) as carla,
    ):
        first = await ana.send(server.channel, subject="First")
        async with carla.subscribe([server.channel], resume_file=resume) as before:
            await next_matching(before, concerning(first.id, EventType.NOTICE_RECEIVED))
        second = await ana.send(server.channel, subject="Second, while carla was away")
        async with carla.subscribe([server.channel], resume_file=resume) as after:
            async with asyncio.timeout(WAIT):
                resumed = await anext(after)

    assert resumed.type is EventType.NOTICE_SENT
    assert resumed.data["notice"] == str(second.id)


async def test_an_unknown_token_ends_the_subscription_with_close_4401(server: Demo) -> None:
    async with (
        HotlineClient(server.url, "hl_not-a-token") as stranger,
        stranger.subscribe([server.channel]) as sub,
    ):
        with pytest.raises(Closed) as raised:
            async with asyncio.timeout(WAIT):
                await anext(sub)

    assert raised.value.code == 4401


# -- the command line -------------------------------------------------------------------------


def cli_env(server: Demo, operator: str, home: Path) -> dict[str, str]:
    """The environment of an operator's shell: URL and token set, no profile, wide lines."""
    return clean_env(
        HOTLINE_URL=server.url,
        HOTLINE_TOKEN=server.tokens[operator],
        HOME=str(home),  # so that no real ~/.config/hotline/profile.toml is read
        COLUMNS="200",
    )


def hotline_as(
    server: Demo, operator: str, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m server *args`` as ``operator`` and wait for it to finish."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=home,
        env=cli_env(server, operator, home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def test_the_command_line_sends_shows_the_inbox_and_acknowledges(
    server: Demo, tmp_path: Path
) -> None:
    sent = hotline_as(
        server, "ana", tmp_path, "send", "Water main renewal", "--priority", "urgent", "--json"
    )
    assert sent.returncode == 0, sent.stderr
    notice_id = json.loads(sent.stdout)["id"]

    inbox = hotline_as(server, "carla", tmp_path, "inbox")
    acked = hotline_as(server, "carla", tmp_path, "ack", notice_id)
    inbox_after = hotline_as(server, "carla", tmp_path, "inbox", "--json")
    status = hotline_as(server, "carla", tmp_path, "status")

    assert inbox.returncode == 0, inbox.stderr
    assert notice_id in inbox.stdout
    assert "Water main renewal" in inbox.stdout
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.startswith(f"acknowledged {notice_id}")
    assert json.loads(inbox_after.stdout) == []
    assert status.returncode == 0, status.stderr
    assert "Carla Rossi" in status.stdout
    assert f"{server.channel}  with Riverside Water (water)  head 3" in status.stdout


def test_command_line_errors_are_one_line_on_stderr_and_never_show_the_token(
    server: Demo, tmp_path: Path
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    objected_to_nothing = hotline_as(server, "carla", tmp_path, "object", unknown, "--reason", "no")
    own_notice = hotline_as(server, "ana", tmp_path, "send", "Mine", "--json")
    self_ack = hotline_as(server, "ana", tmp_path, "ack", json.loads(own_notice.stdout)["id"])

    for result in (objected_to_nothing, self_ack):
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1
        assert all(token not in result.stderr for token in server.tokens.values())
    assert "404 not-found" in objected_to_nothing.stderr
    assert "403 forbidden" in self_ack.stderr


class LineReader:
    """Reads a child's output a line at a time on a thread, so a test can wait with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = WAIT) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line within {timeout:g} s")
        if line is None:
            pytest.fail("the output ended")
        return line


@pytest.fixture
def listener(server: Demo, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """``hotline listen --json --after 0`` as carla, stopped with SIGTERM at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "listen", "--json", "--after", "0"],
        cwd=tmp_path,
        env=cli_env(server, "carla", tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield process, LineReader(process.stdout)
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)
        if process.stderr is not None:
            process.stderr.close()


def test_listen_prints_past_then_live_events_as_json_lines(
    server: Demo, tmp_path: Path, listener: tuple[subprocess.Popen[str], LineReader]
) -> None:
    before = hotline_as(server, "ana", tmp_path, "send", "Sent before listening", "--json")
    process, output = listener

    first = json.loads(output.next())
    receipt = json.loads(output.next())  # carla's listener confirms receipt by itself
    live = hotline_as(server, "ana", tmp_path, "send", "Sent while listening", "--json")
    third = json.loads(output.next())

    assert (first["seq"], first["type"]) == (1, "notice.sent")
    assert first["data"]["notice"] == json.loads(before.stdout)["id"]
    assert (receipt["seq"], receipt["type"], receipt["actor"]["operator"]) == (
        2,
        "notice.received",
        "carla",
    )
    assert (third["seq"], third["data"]["notice"]) == (3, json.loads(live.stdout)["id"])
    process.terminate()
    assert process.wait(WAIT) == 0  # SIGTERM ends it as Ctrl+C does


def test_a_profile_gives_url_token_and_channel_and_flags_override_it(
    server: Demo, tmp_path: Path
) -> None:
    profile = tmp_path / "carla.toml"
    profile.write_text(
        f'url = "{server.url}"\ntoken = "{server.tokens["carla"]}"\nchannel = "{server.channel}"\n'
    )
    env = clean_env(HOTLINE_PROFILE=str(profile), HOME=str(tmp_path), COLUMNS="200")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server", *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    from_profile = run("status", "--json")
    overridden = run("status", "--json", "--token", server.tokens["dev"])
    wrong_channel = run("inbox", "--channel", "no-such-channel")

    assert from_profile.returncode == 0, from_profile.stderr
    assert json.loads(from_profile.stdout)["me"]["operator"]["id"] == "carla"
    assert json.loads(overridden.stdout)["me"]["operator"]["id"] == "dev"
    assert wrong_channel.returncode == 1
    assert "404 not-found" in wrong_channel.stderr


async def test_a_notice_signed_and_acknowledged_signed_over_the_socket_checks_out(
    server: Demo,
) -> None:
    ana_key, ana_public = generate_key("ana")
    carla_key, carla_public = generate_key("carla")
    async with (
        HotlineClient(server.url, server.tokens["ana"], signing_key=ana_key) as ana,
        HotlineClient(server.url, server.tokens["carla"], signing_key=carla_key) as carla,
    ):
        await ana.register_key(server.channel)
        await carla.register_key(server.channel)
        async with (
            ana.subscribe([server.channel]) as water,
            carla.subscribe([server.channel]) as roads,
        ):
            sent = await water.send(server.channel, subject="Valve exchange, Quay Street")
            await next_matching(roads, concerning(sent.id, EventType.NOTICE_SENT))
            await roads.acknowledge(server.channel, sent.id)
            await next_matching(water, concerning(sent.id, EventType.NOTICE_ACKNOWLEDGED))
        log = await carla.raw_events(server.channel, after=0, limit=1000)

    report = check_signatures(log, pinned={"ana": [ana_public], "carla": [carla_public]})

    assert report.failures == []
    assert report.signed == 2  # the notice and the acknowledgement; a receipt is not signed
