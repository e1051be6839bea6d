"""Where attachments live: their bytes in files named by hash, their uploads in a table.

The bytes are not in the database. Each file is kept once, however many channels it was
uploaded to, at ``<dir>/<first two hex digits>/<sha256>`` (``settings.attachments_dir``):
content-addressed, so a file's name is its proof. An upload is written to a temporary
file in ``<dir>`` while it is hashed, flushed to disk, then renamed into place, which is
atomic: a reader finds the whole file or none, and a refused upload leaves nothing behind.
A file already there is replaced by the new copy of the same bytes, which mends one that
was damaged on disk.

Reading re-hashes: :meth:`Blobs.read` returns the bytes only if they still have the hash
they are stored under, so nothing altered on disk is ever served.

Who may see a file is decided by the rows of ``attachments`` (one per channel, party and
file: that party uploaded it there) and by the notices of the channel that list it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.attachments import Attachment, ContentCheck
from server.store.models import AttachmentRow, NoticeRow

__all__ = ["Blobs", "Corrupt", "Stored", "Uploads"]


class Corrupt(Exception):
    """A stored file is missing, or its bytes no longer have the hash it is stored under.

    Not a refusal: the server's storage failed. ``sha256`` names the file, ``path`` where
    it should be, ``found`` the hash its bytes have now (``None``: no file).
    """

    def __init__(self, sha256: str, path: Path, found: str | None) -> None:
        what = "is missing" if found is None else f"has hash {found}"
        super().__init__(f"attachment {sha256} at {path} {what}")
        self.sha256 = sha256
        self.path = path
        self.found = found


class Blobs:
    """The files of ``root``, each named by its SHA-256.

    Args:
        root: the attachments directory; made when the first file is stored.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the file with this hash is kept."""
        return self.root / sha256[:2] / sha256

    async def store(self, chunks: AsyncIterable[bytes], check: ContentCheck) -> str:
        """Write a stream to its place, named by the hash of what came; return the hash.

        Every chunk goes through ``check`` first, and the whole file once it has come,
        before it is put in place; a refusal keeps nothing. Whatever goes wrong, the
        temporary file is removed.

        Args:
            chunks: the bytes, as they arrive.
            check: the size and content check, which raises to refuse.

        Returns:
            The lower-case hex SHA-256 of the bytes, now stored under it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        digest = hashlib.sha256()
        try:
            with os.fdopen(descriptor, "wb") as file:
                async for chunk in chunks:
                    check.feed(chunk)
                    digest.update(chunk)
                    file.write(chunk)  # into the page cache: microseconds, so not in a thread
                # GeoJSON is parsed whole here (up to the upload limit): in a thread, so that a
                # large file does not hold up the writer and every socket meanwhile.
                await asyncio.to_thread(check.finish)
                file.flush()
                await asyncio.to_thread(os.fsync, file.fileno())
            sha256 = digest.hexdigest()
            await asyncio.to_thread(self._place, Path(temporary), sha256)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return sha256

    def _place(self, temporary: Path, sha256: str) -> None:
        target = self.path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
        _sync_directory(target.parent)

    async def read(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, checked against it.

        Read whole (a file is at most ``max_attachment_bytes``) so that the bytes checked
        are the bytes served: a file hashed, then read again, could change in between.

        Raises:
            Corrupt: there is no such file, or its bytes have another hash.
        """
        return await asyncio.to_thread(self._read, sha256)

    def _read(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise Corrupt(sha256, path, None) from None
        found = hashlib.sha256(content).hexdigest()
        if found != sha256:
            raise Corrupt(sha256, path, found)
        return content


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries, so that a file renamed into it survives a crash."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass(frozen=True, slots=True)
class Stored:
    """A party's upload of a file to a channel, as its row says."""

    channel: str
    party: str
    sha256: str
    size: int
    media_type: str
    name: str
    """The name it was uploaded under (a notice listing it may name it otherwise)."""
    uploaded_by: str
    uploaded_at: datetime


class Uploads:
    """Reads and writes of the ``attachments`` table for one session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, upload: Stored) -> bool:
        """Record an upload, unless this party uploaded the file to the channel already.

        Returns:
            Whether it is new (``False``: the row was there, and is left as it was, with
            the name it was first uploaded under).
        """
        values = {
            "channel_id": upload.channel,
            "sha256": upload.sha256,
            "party": upload.party,
            "size": upload.size,
            "media_type": upload.media_type,
            "name": upload.name,
            "uploaded_by": upload.uploaded_by,
            "uploaded_at": upload.uploaded_at,
        }
        # An upload and its retry may race: the database decides which one is new.
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await self.session.execute(
            insert(AttachmentRow).values(**values).on_conflict_do_nothing()
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def of_party(
        self, channel: str, party: str, sha256s: Collection[str]
    ) -> dict[str, Stored]:
        """By hash, those of ``sha256s`` that ``party`` uploaded to ``channel``."""
        if not sha256s:
            return {}
        rows = await self.session.scalars(
            select(AttachmentRow).where(
                AttachmentRow.channel_id == channel,
                AttachmentRow.party == party,
                AttachmentRow.sha256.in_(list(sha256s)),
            )
        )
        return {row.sha256: _stored(row) for row in rows}

    async def listed(self, channel: str, sha256: str) -> Attachment | None:
        """The file as the newest notice of ``channel`` that lists it lists it, if one does.

        The notices' lists are JSON text, so this reads the channel's notices that carry
        files and looks for the hash in their text first (a hex string matches nothing
        else), then in their parsed lists.
        """
        rows = await self.session.scalars(
            select(NoticeRow.attachments)
            .where(
                NoticeRow.channel_id == channel,
                NoticeRow.attachments.is_not(None),
                NoticeRow.attachments.contains(f'"{sha256}"', autoescape=True),
            )
            .order_by(NoticeRow.sent_seq.desc())
        )
        for text in rows:
            for listed in json.loads(text or "[]"):
                if listed["sha256"] == sha256:
                    return Attachment(**listed)
        return None


def _stored(row: AttachmentRow) -> Stored:
    return Stored(
        channel=row.channel_id,
        party=row.party,
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        name=row.name,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )
