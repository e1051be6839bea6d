"""The files an export keeps beside its log, and their check against the log's hashes.

``hotline export water-roads.jsonl --attachments`` writes every file a ``notice.sent``
event lists into the folder ``water-roads.jsonl.attachments/``, each named by its SHA-256
and checked before it is written. ``hotline verify --export water-roads.jsonl`` then hashes
every file it finds there against the listing in the (verified) log: the log proves which
file was sent, and the folder holds it. A file changed since is a failure; a listed file
missing from the folder is said, not failed, unless the export says it kept them all.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.attachments import listings
from client.errors import ApiError, AttachmentMismatch
from client.protocol.schemas import Attachment
from client.protocol.vocabulary import EventType
from client.sdk import HotlineClient

__all__ = [
    "FileReport",
    "Listed",
    "check_folder",
    "default_folder",
    "download_all",
    "listed_in",
]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Listed:
    """One file as a ``notice.sent`` event lists it."""

    seq: int
    notice: str
    file: Attachment

    def __str__(self) -> str:
        return f"{self.file.name} ({self.file.sha256}) of notice {self.notice}, event {self.seq}"


@dataclass
class FileReport:
    """What the check of an attachments folder found.

    Attributes:
        listed: how many files the log lists (a file listed twice counts once).
        checked: how many of them were in the folder and matched.
        missing: each listed file not in the folder, in words.
        failures: each file whose bytes are not those listed, in words.
    """

    listed: int = 0
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def default_folder(export: Path) -> Path:
    """The folder an export keeps its files in: ``<export file name>.attachments``."""
    return export.with_name(f"{export.name}.attachments")


def listed_in(events: Iterable[Mapping[str, Any]]) -> Iterator[Listed]:
    """Every file the ``notice.sent`` events of a log list, in log order.

    Raises:
        HotlineError: an event's list of attachments is malformed.
    """
    for event in events:
        if event.get("type") != EventType.NOTICE_SENT:
            continue
        data = event.get("data")
        for file in listings(data):
            notice = data.get("notice") if isinstance(data, dict) else None
            yield Listed(int(event["seq"]), str(notice), file)


def _unique(files: Iterable[Listed]) -> dict[str, Listed]:
    """The first listing of each hash (one file, however many notices list it)."""
    found: dict[str, Listed] = {}
    for listed in files:
        found.setdefault(listed.file.sha256, listed)
    return found


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_folder(folder: Path, files: Iterable[Listed], *, all_kept: bool) -> FileReport:
    """Hash every listed file found in ``folder`` against its listing.

    Args:
        folder: the attachments folder of an export.
        files: what the log lists (:func:`listed_in`, of the events verified).
        all_kept: the export says it kept every file: then a missing one is a failure.
    """
    report = FileReport()
    for sha256, listed in _unique(files).items():
        report.listed += 1
        path = folder / sha256
        if not path.is_file():
            message = f"{listed}: missing from {folder}"
            (report.failures if all_kept else report.missing).append(message)
            continue
        found, size = _hash_file(path)
        if found != sha256 or size != listed.file.size:
            report.failures.append(
                f"{listed}: the file in {folder} is not the one the log lists: its SHA-256 is "
                f"{found} ({size} bytes; the log lists {listed.file.size})"
            )
            continue
        report.checked += 1
    return report


async def download_all(
    client: HotlineClient, channel: str, events: Iterable[Mapping[str, Any]], folder: Path
) -> FileReport:
    """Download every file the events list into ``folder``, each checked before it is kept.

    A file already there with the listed hash is kept as it is. A file the server refuses
    to serve, or serves changed, is a failure: nothing is written for it.

    Raises:
        Unreachable: the server stopped answering.
    """
    report = FileReport()
    for sha256, listed in _unique(listed_in(events)).items():
        report.listed += 1
        if await asyncio.to_thread(_kept, folder, listed.file):
            report.checked += 1
            continue
        try:
            data = await client.download_attachment(channel, listed.file)
        except (ApiError, AttachmentMismatch) as exc:
            report.failures.append(f"{listed}: not exported: {exc}")
            continue
        await asyncio.to_thread(_keep, folder, sha256, data)
        report.checked += 1
    return report


def _kept(folder: Path, file: Attachment) -> bool:
    """Whether the folder holds the file already, unchanged."""
    path = folder / file.sha256
    return path.is_file() and _hash_file(path) == (file.sha256, file.size)


def _keep(folder: Path, sha256: str, data: bytes) -> None:
    """Write a checked file into the folder, whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{sha256}.part"
    temporary.write_bytes(data)
    os.replace(temporary, folder / sha256)
