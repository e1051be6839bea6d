"""How long offline verification of a large export takes (``hotline verify --export``).

Run from the repository root (docs/reference/benchmarks-log.md explains the figures)::

    python tests/benchmarks/bench_verify.py --events 1000000 --runs 3

It writes, in a temporary directory, an export of N events shaped like the demo's
(notices sent, received, acknowledged: a third each; none signed by an operator), with a
checkpoint signed by a fresh key, laid out as ``hotline export`` lays it out: each event
line its RFC 8785 canonical JSON. Making the file is not timed. Then it times
``client.verify.verify_export`` on it, the whole of what the command does: read and parse
every line, hash it into the Merkle tree, compare the root with the signed one, check the
signatures. Once with one worker process per core (the default), once with a single
worker, to show what the parallel hashing buys. ``--lines json`` writes the lines with
``json.dumps`` instead, as exports were written before: the verifier then finds that the
lines as written do not give the signed root and canonicalises every event, a second pass.
The script is not a test (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from client.protocol import signatures
from client.protocol.checkpoint import Checkpoint, sign_checkpoint
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from client.protocol.note import generate_key
from client.verify import EXPORT_FORMAT, verify_export

CHANNEL = "water-roads"
LOG_NAME = "hotline.example"


def _event(seq: int) -> dict[str, Any]:
    """Event ``seq`` of a made-up but demo-shaped log."""
    notice = str(uuid.UUID(int=seq // 3 + 1))
    at = "2026-11-21T09:30:00.123Z"
    match seq % 3:
        case 1:
            data = {
                "notice": notice,
                "subject": f"Water main renewal, Mill Lane #{seq}",
                "body": "Trench on the north side; one lane closed between 08:00 and 16:00.",
                "priority": "routine",
                "activity": {"starts_at": "2026-12-01T07:00:00.000Z", "ends_at": None},
                "area": "Mill Lane 1-40",
                "ack_required": True,
                "refers_to": None,
                "ack_due_at": "2026-11-24T09:30:00.123Z",
                "client_time": None,
            }
            return _with(seq, "notice.sent", at, "water", "ana", data)
        case 2:
            return _with(seq, "notice.received", at, "roads", "carla", {"notice": notice})
        case _:
            data = {"notice": notice, "decision": "acknowledged", "reason": None}
            return _with(seq, "notice.acknowledged", at, "roads", "carla", data)


def _with(
    seq: int, kind: str, at: str, party: str, operator: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "channel": CHANNEL,
        "seq": seq,
        "type": kind,
        "at": at,
        "actor": {"party": party, "operator": operator},
        "data": data,
    }


def _lines_and_leaves(first: int, count: int, canonical: bool) -> tuple[list[str], bytes]:
    lines, leaves = [], bytearray()
    for seq in range(first, first + count):
        event = _event(seq)
        if canonical:
            lines.append(leaf_bytes(event).decode("utf-8"))
        else:
            lines.append(json.dumps(event, separators=(",", ":")))
        leaves += event_hash(event)
    return lines, bytes(leaves)


def make_export(path: Path, events: int, *, canonical: bool = True) -> None:
    """Write an export of ``events`` events with a signed checkpoint over them."""
    signer, verifier = generate_key(LOG_NAME)
    tree = CompactRange()
    body = path.with_suffix(".events")
    chunk = 50_000
    with ProcessPoolExecutor() as pool, body.open("w") as out:
        starts = range(1, events + 1, chunk)
        counts = [min(chunk, events + 1 - s) for s in starts]
        for lines, leaves in pool.map(_lines_and_leaves, starts, counts, [canonical] * len(counts)):
            out.write("\n".join(lines) + "\n")
            for i in range(0, len(leaves), 32):
                tree.append(leaves[i : i + 32])
    checkpoint = Checkpoint(origin(LOG_NAME, CHANNEL), tree.size, tree.root())
    header = {
        "hotline_export": EXPORT_FORMAT,
        "channel": CHANNEL,
        "origin": checkpoint.origin,
        "log_key": verifier,
        "checkpoint": sign_checkpoint(checkpoint, signer),
        "operator_keys": {},
        "exported_at": "2026-11-21T10:00:00.000Z",
    }
    with path.open("w") as out, body.open() as events_file:
        out.write(json.dumps(header) + "\n")
        for line in events_file:
            out.write(line)
    body.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--lines",
        choices=("canonical", "json"),
        default="canonical",
        help="event lines as hotline export writes them (canonical) or as json.dumps does",
    )
    args = parser.parse_args()
    assert signatures.check_signatures([]).ok  # the signature check is part of what runs

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "export.jsonl"
        started = time.perf_counter()
        make_export(path, args.events, canonical=args.lines == "canonical")
        made = time.perf_counter() - started
        size_mib = path.stat().st_size / 2**20
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print(
            f"export: {args.events:,} events, {args.lines} lines, {size_mib:,.0f} MiB, "
            f"made in {made:.1f} s"
        )
        for workers in (os.cpu_count() or 1, 1):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                report = verify_export(path, workers=workers)
                times.append(time.perf_counter() - started)
                assert report.ok, report.failures
                assert report.events == args.events
            print(
                f"verify --export, {workers} worker(s): median {statistics.median(times):.1f} s "
                f"(runs: {', '.join(f'{t:.1f}' for t in times)}; "
                f"{args.events / statistics.median(times):,.0f} events/s)"
            )


if __name__ == "__main__":
    main()
