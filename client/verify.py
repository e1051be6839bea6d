"""Verifying a whole channel log, online from the server or offline from an export.

``hotline verify`` and ``hotline export`` are thin commands over this module
(``client/verify_cli.py``). A verification checks, in order:

1. the latest checkpoint's signature, with the log key (pinned, remembered, or - the
   first time only - the one the server serves);
2. that it extends the checkpoint this verifier accepted last time, if any (a
   consistency proof; a failure is a :class:`~client.audit.SplitView`);
3. every event, 1 to the checkpoint's size, numbered without gaps, hashed into the tree:
   its root must be the signed one. When it is not, the first event that differs is found
   by bisection with consistency proofs (online; an export alone cannot say which);
4. every operator signature (``client.protocol.signatures``).

An export is one file of JSON lines: a header (channel, origin, log key, signed
checkpoint, operators' keys) and then each event exactly as the server served it, so
that it can be checked with no server at all, years later. Exported with its files, it
has a folder beside it (``client/attachment_files.py``); verifying the export then hashes
each file there against the listing of the log it just verified.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.attachment_files import (
    FileReport,
    check_folder,
    default_folder,
    download_all,
    listed_in,
)
from client.audit import ChannelAuditor, LogTampered, PrefixRoots, SplitView, first_difference
from client.errors import HotlineError
from client.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from client.protocol.merkle import leaf_hash
from client.protocol.note import NoteError, Verifier
from client.protocol.signatures import SIGNED_FIELDS, check_signatures
from client.protocol.times import format_time, utc_now
from client.protocol.vocabulary import EventType
from client.sdk import HotlineClient

__all__ = ["EXPORT_FORMAT", "Report", "export_channel", "verify_export", "verify_online"]

EXPORT_FORMAT = 1
"""The version of the export file written here (``hotline_export`` in its header)."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while events are read."""

OperatorKeys = Mapping[str, Sequence[str]]
"""Operator id to the verifier keys its party vouched for out of band (pinned)."""

_KEY_REGISTERED = "operator.key_registered"


@dataclass
class Report:
    """What a verification found.

    Attributes:
        channel: the channel.
        checkpoint: the signed checkpoint checked against (its note).
        size: how many events it covers.
        log_key: the verifier key it was checked with.
        key_source: where that key came from: ``pinned``, ``remembered``, ``server``
            (trusted on first use) or ``export``.
        events: how many events were checked.
        signed: how many operator signatures were valid.
        unsigned: how many notices and decisions carried no signature.
        failures: what failed, one sentence each; empty when all holds.
        first_bad: the first event that does not match the log, if one was named.
        registrations: every operator key the log registers: ``(seq, operator, key)``,
            in log order; compare them with the operators, or pin them.
        files: what the check of the files kept beside an export found, if it had any;
            its failures are among ``failures`` too.
    """

    channel: str
    checkpoint: str
    size: int
    log_key: str
    key_source: str
    events: int = 0
    signed: int = 0
    unsigned: int = 0
    failures: list[str] = field(default_factory=list)
    first_bad: int | None = None
    registrations: list[tuple[int, str, str]] = field(default_factory=list)
    files: FileReport | None = None

    @property
    def ok(self) -> bool:
        """Whether everything held."""
        return not self.failures


def _open(note: str, key: str, channel: str) -> Checkpoint:
    try:
        verifier = Verifier.parse(key)
        return open_checkpoint(note, [verifier], origin=origin(verifier.name, channel))
    except (NoteError, CheckpointError) as exc:
        raise LogTampered(
            f"{channel}: the checkpoint is not signed by the log key: {exc}", channel=channel
        ) from exc


def _check_signatures(
    report: Report, events: Iterable[Mapping[str, Any]], pinned: OperatorKeys | None
) -> None:
    found = check_signatures(events, pinned=pinned)
    report.signed, report.unsigned = found.signed, found.unsigned
    report.registrations = found.registrations
    report.failures.extend(f"event {seq}: {reason}" for seq, reason in found.failures)


# -- online ------------------------------------------------------------------------------


def _remembered(state: Path | None) -> dict[str, Any]:
    if state is None:
        return {}
    try:
        found = json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HotlineError(f"cannot read the verifier's state {state}: {exc}") from exc
    return found if isinstance(found, dict) else {}


def _remember(
    state: Path, known: dict[str, Any], server: str, channel: str, key: str, note: str
) -> None:
    entry = known.setdefault("servers", {}).setdefault(server, {})
    entry["log_key"] = key
    entry.setdefault("checkpoints", {})[channel] = note
    state.parent.mkdir(parents=True, exist_ok=True)
    temporary = state.with_name(f".{state.name}.tmp")
    temporary.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, state)


async def _events(
    client: HotlineClient, channel: str, size: int, progress: Progress | None
) -> list[dict[str, Any]]:
    """Events 1 to ``size`` as served (raw JSON objects), a page at a time."""
    events: list[dict[str, Any]] = []
    after = 0
    while after < size:
        # Paged by the last seq served, so that a missing event shows as a gap, not as
        # the next event read twice.
        page = await client.raw_events(channel, after=after, limit=1000)
        page = [e for e in page if isinstance(e.get("seq"), int) and after < e["seq"] <= size]
        if not page:
            break
        events.extend(page)
        after = page[-1]["seq"]
        if progress is not None:
            progress(after, size)
    return events


async def verify_online(
    client: HotlineClient,
    channel: str,
    *,
    log_key: str | None = None,
    state: Path | None = None,
    progress: Progress | None = None,
    events_out: list[dict[str, Any]] | None = None,
    operator_keys: OperatorKeys | None = None,
) -> Report:
    """Verify a channel's whole log on the server.

    Args:
        client: a client of the server.
        channel: the channel.
        log_key: the server's verifier key, as its operator published it.
        state: a file where the last accepted checkpoint of each log is kept, so that the
            next run can tell a rewritten history; ``None`` to keep nothing.
        progress: called as events are read.
        events_out: if given, receives the events read (for an export).
        operator_keys: operators' keys got out of band; the log must register no other.

    Raises:
        HotlineError: the server cannot be asked, or the state file cannot be read.
    """
    known = _remembered(state)
    # What was remembered is found by the server's address, never by anything the server
    # says now: a server that renamed its log must not be met as a stranger.
    entry = known.get("servers", {}).get(client.base_url, {})
    remembered_key = entry.get("log_key")
    if log_key is not None:
        key, source = log_key, "pinned"
    elif isinstance(remembered_key, str):
        key, source = remembered_key, "remembered"
    else:
        key, source = await client.log_key(), "server"
    signed = await client.checkpoint(channel)
    checkpoint = _open(signed.note, key, channel)
    report = Report(channel, signed.note, checkpoint.size, key, source)

    earlier = entry.get("checkpoints", {}).get(channel)
    if isinstance(earlier, str):

        async def fetch(old: int, new: int) -> list[bytes]:
            return await client.consistency_proof(channel, old, new)

        # After a rotation the caller accepted, the old key opens the remembered
        # checkpoint, and nothing newer.
        previous = [remembered_key] if isinstance(remembered_key, str) else []
        try:
            auditor = ChannelAuditor(
                channel, [key], fetch, checkpoint=earlier, previous_keys=previous
            )
            await auditor.check_checkpoint(signed.note)
        except SplitView as exc:
            report.failures.append(str(exc))
            return report

    events = await _events(client, channel, checkpoint.size, progress)
    if events_out is not None:
        events_out.extend(events)  # an export keeps whatever was served, broken or not
    report.events = len(events)
    leaves: list[bytes] = []
    for number, event in enumerate(events, start=1):
        if event.get("seq") != number:
            report.first_bad = number
            report.failures.append(
                f"event {number} is missing (the next has seq {event.get('seq')})"
            )
            return report
        leaves.append(event_hash(event))
    if len(events) < checkpoint.size:
        report.first_bad = len(events) + 1
        report.failures.append(f"events {len(events) + 1} to {checkpoint.size} are missing")
        return report
    roots = PrefixRoots(CompactRange(), leaves)
    if roots.end.root() != checkpoint.root_hash:

        async def proof(old: int, new: int) -> list[bytes]:
            return await client.consistency_proof(channel, old, new)

        report.first_bad = await first_difference(roots, checkpoint, proof)
        report.failures.append(
            f"event {report.first_bad} is not the event the signed log holds: it was changed, "
            "dropped or moved after it was logged"
        )
    _check_signatures(report, events, operator_keys)
    if report.ok and state is not None:
        _remember(state, known, client.base_url, channel, key, signed.note)
    return report


# -- exports -----------------------------------------------------------------------------


async def export_channel(
    client: HotlineClient,
    channel: str,
    path: Path,
    *,
    log_key: str | None = None,
    progress: Progress | None = None,
    attachments: bool = False,
) -> Report:
    """Write a channel's log to ``path`` for offline verification, checking it on the way.

    The export is written whatever the check says (it is evidence either way); the report
    says what was found.

    Args:
        client: a client of the server.
        channel: the channel.
        path: the file to write.
        log_key: the server's verifier key, as its operator published it.
        progress: called as events are read.
        attachments: also download every file the log lists into the folder beside the
            export (:func:`~client.attachment_files.default_folder`), each checked
            against its listing; a file refused or changed is a failure of the report.
    """
    events: list[dict[str, Any]] = []
    report = await verify_online(
        client, channel, log_key=log_key, progress=progress, events_out=events
    )
    keys = check_signatures(events).keys if events else {}
    header = {
        "hotline_export": EXPORT_FORMAT,
        "channel": channel,
        "origin": origin(Verifier.parse(report.log_key).name, channel),
        "log_key": report.log_key,
        "checkpoint": report.checkpoint,
        "operator_keys": keys,
        "exported_at": format_time(utc_now()),
    }
    if attachments:
        folder = default_folder(path)
        report.files = await download_all(client, channel, events, folder)
        report.failures.extend(report.files.failures)
        header["attachments"] = folder.name  # every file kept: a missing one is a failure
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(json.dumps(header, ensure_ascii=False) + "\n")
        for event in events:
            # Each line is the event's leaf bytes (RFC 8785), so a verifier hashes it as is.
            file.write(leaf_bytes(event).decode("utf-8") + "\n")
    os.replace(temporary, path)
    return report


@dataclass
class _Chunk:
    leaves: bytes
    misnumbered: int | None
    signed: list[dict[str, Any]]
    """Key registrations and signed events: all the signature check needs to see."""
    unsigned: int
    attached: list[dict[str, Any]]
    """The notices that list files: all the check of an attachments folder needs to see."""


def _hash_lines(first_seq: int, lines: list[str], as_written: bool) -> _Chunk:
    """In a worker process: hash a run of exported events.

    ``as_written`` hashes each line's own bytes: ``hotline export`` writes every event as
    its RFC 8785 JSON, the leaf's bytes, and canonicalising costs about eight times as much
    as parsing. A line that is not canonical then gives another hash, and the root does not
    match: never a false match, since a match means the line is the bytes the server
    committed. Otherwise each event is canonicalised first, as a client does online.
    """
    chunk = _Chunk(b"", None, [], 0, [])
    leaves = bytearray()
    for offset, line in enumerate(lines):
        event = json.loads(line)
        if event.get("seq") != first_seq + offset:
            chunk.misnumbered = first_seq + offset
            break
        if as_written:
            leaves += leaf_hash(line.removesuffix("\n").encode("utf-8"))
        else:
            leaves += event_hash(event)
        kind, data = event.get("type"), event.get("data")
        if kind == _KEY_REGISTERED or (isinstance(data, dict) and "signature" in data):
            chunk.signed.append(event)
        elif kind in SIGNED_FIELDS:
            chunk.unsigned += 1
        # Found in the parsed event, the one just hashed, never by matching text: a key
        # spelt with escapes ("\u0061ttachments") is the same event, and its files are
        # checked all the same.
        if kind == EventType.NOTICE_SENT and isinstance(data, dict) and "attachments" in data:
            chunk.attached.append(event)
    chunk.leaves = bytes(leaves)
    return chunk


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _is_canonical(line: str) -> bool:
    """Whether an export's first event line is in RFC 8785 form, as ``hotline export`` writes."""
    try:
        return line.removesuffix("\n").encode("utf-8") == leaf_bytes(json.loads(line))
    except ValueError:  # not JSON: the hashing pass reports the line
        return False


@dataclass
class _Hashed:
    root: bytes
    signed: list[dict[str, Any]]
    unsigned: int
    attached: list[dict[str, Any]]


def _hash_export(
    path: Path,
    size: int,
    report: Report,
    progress: Progress | None,
    workers: int | None,
    *,
    as_written: bool,
) -> _Hashed | None:
    """Hash the events of an export in worker processes; ``None`` if one is misnumbered."""
    tree = CompactRange()
    hashed = _Hashed(b"", [], 0, [])
    chunk_size = 20_000
    with (
        path.open(encoding="utf-8") as file,
        ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool,
    ):
        file.readline()  # the header, read already
        pending = [
            pool.submit(_hash_lines, 1 + number * chunk_size, lines, as_written)
            for number, lines in enumerate(_chunks(iter(file), chunk_size))
        ]
        for future in pending:
            chunk = future.result()
            for start in range(0, len(chunk.leaves), 32):
                tree.append(chunk.leaves[start : start + 32])
            hashed.signed.extend(chunk.signed)
            hashed.unsigned += chunk.unsigned
            hashed.attached.extend(chunk.attached)
            report.events = tree.size
            if progress is not None:
                progress(tree.size, size)
            if chunk.misnumbered is not None:
                report.first_bad = chunk.misnumbered
                report.failures.append(f"event {chunk.misnumbered} is missing or out of order")
                return None
    hashed.root = tree.root()
    return hashed


def verify_export(
    path: Path,
    *,
    log_key: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    operator_keys: OperatorKeys | None = None,
    attachments: Path | None = None,
) -> Report:
    """Verify an export with no server: every event against its signed checkpoint.

    Then, if the export has an attachments folder, every file in it against the listing
    of the log (a file changed is a failure; one missing, only if the export kept them all).

    Args:
        path: the export file.
        log_key: the server's verifier key; without it the key in the export is used,
            which proves only that the file is whole, not who signed it.
        progress: called as events are checked.
        workers: processes hashing events in parallel (default: one per core).
        operator_keys: operators' keys got out of band; the log must register no other.
        attachments: the folder of the export's files, if not the one beside it.

    Raises:
        HotlineError: the file is not an export.
    """
    with path.open(encoding="utf-8") as file:
        try:
            header = json.loads(file.readline())
        except ValueError as exc:
            raise HotlineError(f"{path} is not a Hotline export: {exc}") from exc
        if not isinstance(header, dict) or header.get("hotline_export") != EXPORT_FORMAT:
            raise HotlineError(f"{path} is not a Hotline export (format {EXPORT_FORMAT})")
        channel, note = str(header["channel"]), str(header["checkpoint"])
        key = log_key or str(header["log_key"])
        report = Report(channel, note, 0, key, "pinned" if log_key else "export")
        checkpoint = _open(note, key, channel)
        report.size = checkpoint.size
        as_written = _is_canonical(file.readline())
    hashed = _hash_export(path, checkpoint.size, report, progress, workers, as_written=as_written)
    whole = report.events == checkpoint.size
    if hashed is not None and as_written and whole and hashed.root != checkpoint.root_hash:
        # A later line not in canonical form (an export edited by hand) is not
        # necessarily a changed event: hash each event as a client would before judging.
        hashed = _hash_export(path, checkpoint.size, report, progress, workers, as_written=False)
    if hashed is None:
        return report  # an event missing or out of order, reported
    if report.events != checkpoint.size:
        report.failures.append(
            f"the export holds {report.events} events, the checkpoint {checkpoint.size}"
        )
    elif hashed.root != checkpoint.root_hash:
        report.failures.append(
            "the events do not match the signed checkpoint: one was changed, dropped or "
            "moved (verify online to learn which)"
        )
    _check_signatures(report, hashed.signed, operator_keys)
    report.unsigned += hashed.unsigned
    kept = header.get("attachments")
    folder = attachments or default_folder(path)
    if attachments is not None or isinstance(kept, str) or folder.is_dir():
        # The listings are those of the events just hashed, as parsed: the log proves them.
        listed = listed_in(hashed.attached)
        report.files = check_folder(folder, listed, all_kept=isinstance(kept, str))
        report.failures.extend(report.files.failures)
    return report
