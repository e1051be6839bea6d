"""Rewriting history behind the server's back is caught, by ``hotline verify`` and by a
connected client, and both name the event.

Each case tampers with the real server's SQLite file through SQL (as someone with access
to the database could), or starts the server on a copy of its database that went another
way, then asks both verifiers.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from client import HotlineClient
from client.audit import LogTampered, SplitView
from client.protocol.note import generate_key
from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, Launcher, clean_env

WAIT = 15.0


def send(demo: Demo, count: int, *, subject: str = "Water main, Elm Street") -> None:
    with httpx.Client(base_url=demo.url, headers=demo.auth("ana"), timeout=WAIT) as http:
        for n in range(count):
            notice = {"id": str(uuid4()), "subject": f"{subject} #{n}"}
            response = http.post(demo.notices, json=notice)
            assert response.status_code == 201, response.text


def verify(demo: Demo, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``hotline verify`` as carla of the roads department."""
    return subprocess.run(
        [sys.executable, "-m", "server", "verify", "--state", str(state), *extra],
        env=clean_env(
            HOTLINE_URL=demo.url,
            HOTLINE_TOKEN=demo.tokens["carla"],
            HOTLINE_CHANNEL=demo.channel,
            COLUMNS="200",
        ),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


async def first_failure(demo: Demo, resume: Path | None = None) -> Exception:
    """What a verifying subscription raises reading the whole log."""

    async def read() -> None:
        async with HotlineClient(demo.url, demo.tokens["carla"]) as client:
            sub = client.subscribe([demo.channel], resume_file=resume, confirm_receipts=False)
            async with sub, asyncio.timeout(WAIT):
                async for _ in sub:
                    pass

    with pytest.raises((LogTampered, SplitView)) as raised:
        await read()
    return raised.value


@contextmanager
def database(demo: Demo) -> Iterator[sqlite3.Connection]:
    path = demo.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db, db:
        yield db


@pytest.fixture
def demo(launch: Launcher) -> Demo:
    running = launch.demo()
    send(running, 6)
    return running


def test_an_untouched_log_verifies(demo: Demo, tmp_path: Path) -> None:
    found = verify(demo, tmp_path / "state.json")

    assert found.returncode == 0, found.stdout + found.stderr
    assert "VERIFIED" in found.stdout
    assert "checkpoint  6 events" in found.stdout


def test_an_event_changed_through_sql_is_named(demo: Demo, tmp_path: Path) -> None:
    with database(demo) as db:
        db.execute(
            "UPDATE events SET data = replace(data, 'Elm Street #2', 'Oak Street #2') "
            "WHERE channel_id = ? AND seq = 3",
            (demo.channel,),
        )

    found = verify(demo, tmp_path / "state.json")
    failure = asyncio.run(first_failure(demo))

    assert found.returncode == 1
    assert "event 3 is not the event the signed log holds" in found.stdout
    assert isinstance(failure, LogTampered)
    assert failure.seq == 3


def test_a_dropped_event_is_named(demo: Demo, tmp_path: Path) -> None:
    with database(demo) as db:
        db.execute("DELETE FROM events WHERE channel_id = ? AND seq = 4", (demo.channel,))

    found = verify(demo, tmp_path / "state.json")
    failure = asyncio.run(first_failure(demo))
    exported = export(demo, tmp_path / "evidence.jsonl")

    assert found.returncode == 1
    assert "event 4 is missing" in found.stdout
    assert isinstance(failure, LogTampered)
    assert failure.seq == 4
    # The export is evidence all the same: what was served, gap and all.
    assert exported.returncode == 1
    lines = (tmp_path / "evidence.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines[1:]] == [1, 2, 3, 5, 6]


def test_two_events_swapped_are_caught_at_the_first(demo: Demo, tmp_path: Path) -> None:
    with database(demo) as db:
        db.execute("UPDATE events SET seq = -1 WHERE channel_id = ? AND seq = 2", (demo.channel,))
        db.execute("UPDATE events SET seq = 2 WHERE channel_id = ? AND seq = 5", (demo.channel,))
        db.execute("UPDATE events SET seq = 5 WHERE channel_id = ? AND seq = -1", (demo.channel,))

    found = verify(demo, tmp_path / "state.json")
    failure = asyncio.run(first_failure(demo))

    assert found.returncode == 1
    assert "event 2 is not the event the signed log holds" in found.stdout
    assert isinstance(failure, LogTampered)
    assert failure.seq == 2


def test_a_server_restarted_on_a_copy_with_another_history_is_a_split_view(
    launch: Launcher, tmp_path: Path
) -> None:
    first = launch.demo()
    send(first, 3)
    # A copy of the database as it is now: later, it will take another way.
    copy = tmp_path / "copy.db"
    with database(first) as db, closing(sqlite3.connect(copy)) as target:
        db.backup(target)
    send(first, 2, subject="Gas main, Birch Road")
    state, resume = tmp_path / "state.json", tmp_path / "resume.json"
    assert verify(first, state).returncode == 0
    asyncio.run(read_all(first, resume))
    first.process.stop()

    # The same address and key file, the copied database, a different continuation.
    shutil.copy(copy, launch.directory / "hotline.db")
    other = launch.demo(port=int(first.url.rsplit(":", 1)[1]))
    send(other, 3, subject="Road closure, Main Street")

    found = verify(other, state)
    failure = asyncio.run(first_failure(other, resume))

    assert found.returncode == 1
    assert "history was rewritten" in found.stdout
    assert isinstance(failure, SplitView)


async def read_all(demo: Demo, resume: Path) -> None:
    """Read the whole log once, verifying it, so that the resume file remembers it."""
    async with HotlineClient(demo.url, demo.tokens["carla"]) as client:
        head = (await client.channel(demo.channel)).head
        sub = client.subscribe([demo.channel], resume_file=resume, confirm_receipts=False)
        async with sub, asyncio.timeout(WAIT):
            async for event in sub:
                if event.seq == head:
                    break


def export(demo: Demo, path: Path) -> subprocess.CompletedProcess[str]:
    """``hotline export`` as carla of the roads department."""
    return subprocess.run(
        [sys.executable, "-m", "server", "export", str(path)],
        env=clean_env(
            HOTLINE_URL=demo.url, HOTLINE_TOKEN=demo.tokens["carla"], HOTLINE_CHANNEL=demo.channel
        ),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def test_an_export_verifies_offline_and_a_changed_export_does_not(
    demo: Demo, tmp_path: Path
) -> None:
    path = tmp_path / "water-roads.jsonl"
    made = export(demo, path)
    assert made.returncode == 0, made.stderr
    offline = verify(demo, tmp_path / "state.json", "--export", str(path))
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("Elm Street #2", "Elm Street #9")
    path.write_text("\n".join(lines) + "\n")
    changed = verify(demo, tmp_path / "state.json", "--export", str(path))

    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "VERIFIED" in offline.stdout
    assert changed.returncode == 1
    assert "do not match the signed checkpoint" in changed.stdout


def test_a_history_rewritten_with_its_tree_is_caught_by_whoever_remembered_a_checkpoint(
    launch: Launcher, tmp_path: Path
) -> None:
    first = launch.demo()
    send(first, 4)
    state, resume = tmp_path / "state.json", tmp_path / "resume.json"
    assert verify(first, state).returncode == 0
    asyncio.run(read_all(first, resume))
    first.process.stop()
    # Someone with the database rewrites an event and has the server rebuild the tree
    # over the new history on its next start: the server then signs the rewritten log.
    with database(first) as db:
        db.execute(
            "UPDATE events SET data = replace(data, 'Elm Street #1', 'Oak Street #1') "
            "WHERE channel_id = ? AND seq = 2",
            (first.channel,),
        )
        db.execute("DELETE FROM log_nodes WHERE channel_id = ?", (first.channel,))
    again = launch.demo(port=int(first.url.rsplit(":", 1)[1]))

    remembered = verify(again, state)
    stranger = verify(again, tmp_path / "fresh-state.json")
    failure = asyncio.run(first_failure(again, resume))

    assert remembered.returncode == 1
    assert "history was rewritten" in remembered.stdout
    assert isinstance(failure, SplitView)
    # A verifier that never saw the old log has nothing to hold the new one against.
    assert stranger.returncode == 0


async def send_signed(demo: Demo, signer: str) -> None:
    async with HotlineClient(demo.url, demo.tokens["ana"], signing_key=signer) as ana:
        await ana.register_key(demo.channel)
        await ana.send(demo.channel, subject="Water main, Elm Street, signed")


def test_a_signed_notice_forged_with_its_tree_is_flagged_by_its_signature(
    launch: Launcher, tmp_path: Path
) -> None:
    first = launch.demo()
    signer, public = generate_key("ana")
    asyncio.run(send_signed(first, signer))
    pinned = verify(first, tmp_path / "a.json", "--operator-key", public)
    _, stranger = generate_key("ana")
    wrong_pin = verify(first, tmp_path / "b.json", "--operator-key", stranger)
    first.process.stop()
    with database(first) as db:  # the subject changed, the signature kept, the tree rebuilt
        db.execute(
            "UPDATE events SET data = replace(data, 'Elm Street, signed', 'Oak Street, signed') "
            "WHERE channel_id = ? AND type = 'notice.sent'",
            (first.channel,),
        )
        db.execute("DELETE FROM log_nodes WHERE channel_id = ?", (first.channel,))
    again = launch.demo(port=int(first.url.rsplit(":", 1)[1]))

    forged = verify(again, tmp_path / "c.json")

    assert pinned.returncode == 0, pinned.stdout
    assert f"#1 ana: {public}" in pinned.stdout
    assert wrong_pin.returncode == 1
    assert "did not pin" in wrong_pin.stdout
    assert forged.returncode == 1
    assert "event 2: bad signature" in forged.stdout
