"""Offline verification of an export: lines hashed as written, and the slower way back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from client.protocol.checkpoint import Checkpoint, sign_checkpoint
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from client.protocol.note import generate_key
from client.verify import EXPORT_FORMAT, _hash_lines, verify_export

CHANNEL = "water-roads"
LOG_NAME = "hotline.example"
SIGNER, VERIFIER = generate_key(LOG_NAME)


def events(count: int) -> list[dict[str, Any]]:
    """A made-up log of receipts, with a non-ASCII character to keep UTF-8 honest."""
    return [
        {
            "channel": CHANNEL,
            "seq": seq,
            "type": "notice.received",
            "at": f"2026-11-21T09:{seq:02d}:00.000Z",
            "actor": {"party": "roads", "operator": "carla"},
            "data": {"notice": f"00000000-0000-4000-8000-{seq:012d}", "note": "Straße"},
        }
        for seq in range(1, count + 1)
    ]


def write_export(path: Path, log: list[dict[str, Any]], lines: list[str]) -> None:
    """An export of ``lines`` under a checkpoint signed over ``log``."""
    tree = CompactRange()
    for event in log:
        tree.append(event_hash(event))
    checkpoint = Checkpoint(origin(LOG_NAME, CHANNEL), tree.size, tree.root())
    header = {
        "hotline_export": EXPORT_FORMAT,
        "channel": CHANNEL,
        "origin": checkpoint.origin,
        "log_key": VERIFIER,
        "checkpoint": sign_checkpoint(checkpoint, SIGNER),
        "operator_keys": {},
        "exported_at": "2026-11-21T10:00:00.000Z",
    }
    path.write_text("\n".join([json.dumps(header), *lines]) + "\n", encoding="utf-8")


def canonical(log: list[dict[str, Any]]) -> list[str]:
    return [leaf_bytes(event).decode("utf-8") for event in log]


def json_lines(log: list[dict[str, Any]]) -> list[str]:
    """Not canonical: keys in reverse order, spaces, non-ASCII escaped."""
    return [json.dumps(dict(reversed(list(event.items())))) for event in log]


def test_a_canonical_line_is_hashed_as_written_and_gives_the_events_leaf() -> None:
    log = events(3)
    as_written = _hash_lines(1, [line + "\n" for line in canonical(log)], True)
    assert as_written.leaves == b"".join(event_hash(event) for event in log)


def test_a_line_that_is_not_canonical_gives_another_leaf_as_written_and_the_right_one_parsed() -> (
    None
):
    log = events(3)
    lines = [line + "\n" for line in json_lines(log)]
    assert _hash_lines(1, lines, True).leaves != b"".join(event_hash(event) for event in log)
    assert _hash_lines(1, lines, False).leaves == b"".join(event_hash(event) for event in log)


@pytest.mark.parametrize("layout", [canonical, json_lines], ids=["canonical", "json.dumps"])
def test_an_export_verifies_whichever_way_its_lines_are_written(
    tmp_path: Path, layout: Any
) -> None:
    log = events(50)
    path = tmp_path / "export.jsonl"
    write_export(path, log, layout(log))

    report = verify_export(path, log_key=VERIFIER, workers=1)

    assert report.ok, report.failures
    assert report.events == 50


@pytest.mark.parametrize("layout", [canonical, json_lines], ids=["canonical", "json.dumps"])
def test_a_changed_event_fails_whichever_way_its_lines_are_written(
    tmp_path: Path, layout: Any
) -> None:
    log = events(50)
    changed = [dict(event) for event in log]
    changed[6] = {**changed[6], "at": "2026-11-21T10:06:00.000Z"}
    path = tmp_path / "export.jsonl"
    write_export(path, log, layout(changed))

    report = verify_export(path, log_key=VERIFIER, workers=1)

    assert not report.ok
    assert any("do not match the signed checkpoint" in f for f in report.failures)


def test_an_export_short_of_its_checkpoint_says_so(tmp_path: Path) -> None:
    log = events(50)
    path = tmp_path / "export.jsonl"
    write_export(path, log, canonical(log)[:-1])

    report = verify_export(path, log_key=VERIFIER, workers=1)

    assert report.failures == ["the export holds 49 events, the checkpoint 50"]


def test_a_listing_spelt_with_escapes_is_still_checked_against_its_file(tmp_path: Path) -> None:
    # JSON reads "\u0061ttachments" as "attachments": the event hashes as the one the log
    # holds, so the log passes, and its file must be checked all the same.
    plan = b"Mill Lane: one lane closed.\n"
    listing = {
        "sha256": hashlib.sha256(plan).hexdigest(),
        "size": len(plan),
        "media_type": "text/plain",
        "name": "plan.txt",
    }
    log = events(3)
    log[1] = {**log[1], "type": "notice.sent", "data": {"notice": "n", "attachments": [listing]}}
    lines = canonical(log)
    lines[1] = lines[1].replace('"attachments"', '"\\u0061ttachments"')
    assert '"attachments"' not in lines[1]
    path = tmp_path / "export.jsonl"
    write_export(path, log, lines)
    folder = tmp_path / "export.jsonl.attachments"
    folder.mkdir()
    (folder / listing["sha256"]).write_bytes(b"Mill Lane: open, no works.\n")

    report = verify_export(path, log_key=VERIFIER, workers=1)

    assert report.files is not None
    assert report.files.listed == 1
    assert any("not the one the log lists" in failure for failure in report.failures)
