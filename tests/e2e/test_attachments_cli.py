"""A notice's files end to end, against the real server process: the Python SDK and the
``hotline`` commands that send them, download them, export them and verify them.

Ana sends a notice with a plan and a map (``hotline send --attach``); Carla of the roads
department downloads each, checked against the hash the log lists (``hotline attachment
get``, the SDK's ``download_attachment``), exports the channel with its files, and
verifies the export. Then a file is altered where the server keeps it: the server refuses
to serve it, and ``hotline verify`` flags the exported copy someone altered.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client import ApiError, AttachmentMismatch, HotlineClient, Invalid
from client.protocol.schemas import Attachment
from tests.e2e.conftest import COMMAND_TIMEOUT, Demo, clean_env

PLAN = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MAP = json.dumps(
    {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-1.2588, 51.7526]},
        "properties": {"name": "Mill Lane, trench"},
    }
).encode()


def hotline_as(
    demo: Demo, operator: str, cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``hotline *args`` as ``operator`` of the demo, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=cwd,
        env=clean_env(
            HOTLINE_URL=demo.url,
            HOTLINE_TOKEN=demo.tokens[operator],
            HOME=str(cwd),  # no real ~/.config/hotline/profile.toml, no real state file
            COLUMNS="300",
        ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def stored(demo: Demo, sha256: str) -> Path:
    """Where the demo server keeps a file (its attachments_dir, in its working directory)."""
    root = Path(demo.database_url.removeprefix("sqlite:///")).parent / "hotline-attachments"
    return root / sha256[:2] / sha256


@pytest.fixture
def sent(server: Demo, tmp_path: Path) -> tuple[dict[str, Any], list[Attachment]]:
    """Ana's notice with a plan and a map, sent with ``hotline send --attach``."""
    work = tmp_path / "ana"
    work.mkdir()
    (work / "mill-lane-plan.pdf").write_bytes(PLAN)
    (work / "works-area.geojson").write_bytes(MAP)
    done = hotline_as(
        server,
        "ana",
        work,
        "send",
        "Mill Lane: the traffic plan",
        "--attach",
        "mill-lane-plan.pdf",
        "--attach",
        "works-area.geojson",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    notice: dict[str, Any] = json.loads(done.stdout)
    return notice, [Attachment.model_validate(file) for file in notice["attachments"]]


def test_a_notice_sent_with_files_lists_each_hash_size_type_and_name(
    server: Demo, sent: tuple[dict[str, Any], list[Attachment]]
) -> None:
    _, files = sent

    assert [(f.name, f.media_type, f.size, f.sha256) for f in files] == [
        ("mill-lane-plan.pdf", "application/pdf", len(PLAN), hashlib.sha256(PLAN).hexdigest()),
        ("works-area.geojson", "application/geo+json", len(MAP), hashlib.sha256(MAP).hexdigest()),
    ]


def test_the_other_party_gets_each_file_checked_and_written_under_its_name(
    server: Demo, sent: tuple[dict[str, Any], list[Attachment]], tmp_path: Path
) -> None:
    _, (plan, geo) = sent
    work = tmp_path / "carla"
    work.mkdir()

    named = hotline_as(server, "carla", work, "attachment", "get", plan.sha256)
    chosen = hotline_as(server, "carla", work, "attachment", "get", geo.sha256, "-o", "map.json")
    again = hotline_as(server, "carla", work, "attachment", "get", plan.sha256)

    assert named.returncode == 0, named.stderr
    assert "its SHA-256 is the one asked for" in named.stderr
    assert (work / "mill-lane-plan.pdf").read_bytes() == PLAN
    assert chosen.returncode == 0, chosen.stderr
    assert (work / "map.json").read_bytes() == MAP
    assert again.returncode == 1
    assert "exists" in again.stderr


async def test_the_sdk_uploads_sends_and_downloads_a_file_checked(server: Demo) -> None:
    async with (
        HotlineClient(server.url, server.tokens["ben"]) as ben,
        HotlineClient(server.url, server.tokens["dev"]) as dev,
    ):
        listing = await ben.upload_attachment(
            server.channel, b"Valve closed at 07:00.\n", name="valves.txt"
        )
        again = await ben.upload_attachment(
            server.channel, b"Valve closed at 07:00.\n", name="valves.txt"
        )
        notice = await ben.send(server.channel, subject="Valves", attachments=[listing])
        seen = await dev.notice(server.channel, notice.id)
        data = await dev.download_attachment(server.channel, seen.attachments[0])

    assert again == listing
    assert seen.attachments == [listing]
    assert data == b"Valve closed at 07:00.\n"
    sent_event = seen.history[0]
    assert sent_event.data["attachments"] == [listing.model_dump(mode="json")]


async def test_a_file_that_is_not_what_its_type_says_is_refused_on_upload(server: Demo) -> None:
    async with HotlineClient(server.url, server.tokens["ana"]) as ana:
        with pytest.raises(Invalid) as refused:
            await ana.upload_attachment(server.channel, b"not a pdf at all", name="plan.pdf")

    assert refused.value.code == "attachment-type-mismatch"


async def test_a_file_altered_on_the_server_is_refused_and_never_handed_over(
    server: Demo, sent: tuple[dict[str, Any], list[Attachment]]
) -> None:
    _, (plan, _geo) = sent
    path = stored(server, plan.sha256)
    path.write_bytes(PLAN.replace(b"Catalog", b"Catalag"))

    async with HotlineClient(server.url, server.tokens["carla"]) as carla:
        with pytest.raises((ApiError, AttachmentMismatch)) as refused:
            await carla.download_attachment(server.channel, plan)

    assert isinstance(refused.value, ApiError)  # the server checks before it sends a byte
    assert refused.value.code == "attachment-corrupt"


def test_an_export_keeps_the_files_and_verify_flags_one_altered_since(
    server: Demo, sent: tuple[dict[str, Any], list[Attachment]], tmp_path: Path
) -> None:
    _, (plan, geo) = sent
    work = tmp_path / "audit"
    work.mkdir()
    export = work / "water-roads.jsonl"
    folder = work / "water-roads.jsonl.attachments"

    exported = hotline_as(server, "carla", work, "export", str(export), "--attachments")
    verified = hotline_as(server, "carla", work, "verify", "--export", str(export))
    (folder / plan.sha256).write_bytes(PLAN.replace(b"Catalog", b"Catalag"))
    altered = hotline_as(server, "carla", work, "verify", "--export", str(export))
    (folder / geo.sha256).unlink()
    missing = hotline_as(server, "carla", work, "verify", "--export", str(export))

    assert exported.returncode == 0, exported.stderr
    assert "wrote 2 of 2 files" in exported.stdout
    assert verified.returncode == 0, verified.stdout
    assert "files       2 of 2 listed checked against their SHA-256" in verified.stdout
    assert "VERIFIED" in verified.stdout
    assert "every file kept is the one the log lists" in verified.stdout
    assert altered.returncode == 1
    assert f"FAILED      mill-lane-plan.pdf ({plan.sha256})" in altered.stdout
    assert "is not the one the log lists" in altered.stdout
    assert missing.returncode == 1
    assert f"works-area.geojson ({geo.sha256})" in missing.stdout
    assert "missing from" in missing.stdout


def test_an_export_of_a_file_altered_on_the_server_is_written_without_it_and_fails(
    server: Demo, sent: tuple[dict[str, Any], list[Attachment]], tmp_path: Path
) -> None:
    _, (plan, geo) = sent
    stored(server, plan.sha256).write_bytes(b"%PDF-1.4 something else entirely\n%%EOF\n")
    work = tmp_path / "audit"
    work.mkdir()
    export = work / "water-roads.jsonl"

    exported = hotline_as(server, "carla", work, "export", str(export), "--attachments")

    assert exported.returncode == 1
    assert "attachment-corrupt" in exported.stderr
    assert export.exists()
    folder = work / "water-roads.jsonl.attachments"
    assert sorted(path.name for path in folder.iterdir()) == [geo.sha256]
