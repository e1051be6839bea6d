"""Attachments: upload a file to a channel, check a notice's list, download a file.

A file goes up before the notice that carries it (``upload``): its bytes are checked
against their declared type as they stream in, stored under their SHA-256, and recorded
as uploaded to that channel by the caller's party. A notice may then list it
(``check_listed``, run before the notice reaches the writer: an upload never changes, so
what is checked then still holds when the notice is logged). Either party of the channel
may download it once a notice lists it; before that, only the party that uploaded it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass

from client.protocol.vocabulary import Role
from server.domain.attachments import (
    Attachment,
    ContentCheck,
    check_name,
    is_sha256,
    media_type_of,
)
from server.domain.errors import Forbidden, NotFound, TypeMismatch, UnknownAttachment
from server.domain.model import Actor
from server.store.attachments import Blobs, Corrupt, Stored, Uploads
from server.store.db import Database
from server.store.repository import Repository

__all__ = ["Download", "Uploaded", "check_listed", "download", "upload"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What an upload left behind."""

    attachment: Attachment
    """The file as a notice lists it: hash, size, media type, and the name given."""
    created: bool
    """Whether it is new to the channel for this party (``False``: uploaded before)."""


@dataclass(frozen=True, slots=True)
class Download:
    """A file to serve, its bytes checked against its hash."""

    attachment: Attachment
    """As the newest notice listing it lists it, or as uploaded."""
    content: bytes


async def _channel_of_party(db: Database, actor: Actor, channel_id: str) -> None:
    async with db.session() as session:
        if await Repository(session).visible_head(actor.party, channel_id) is None:
            raise NotFound(f"no channel {channel_id}")


async def upload(
    db: Database,
    blobs: Blobs,
    actor: Actor,
    channel_id: str,
    *,
    name: str,
    content_type: str | None,
    chunks: AsyncIterable[bytes],
    limit: int,
) -> Uploaded:
    """Store a file for the caller's party on a channel, if it is what it says.

    The channel, the caller's role, the name and the media type are checked before a byte
    is read; the content as it streams in; the row is written once the file is in place.
    A refusal at any step leaves nothing stored.

    Args:
        db: the database.
        blobs: the file store.
        actor: the uploading operator (an operator or an admin: observers decide nothing).
        channel_id: the channel it is for.
        name: what the caller calls it.
        content_type: the request's ``Content-Type``.
        chunks: the body, as it arrives.
        limit: the largest file accepted, in bytes.

    Raises:
        NotFound: no such channel, or not one of the caller's party.
        Forbidden: the caller is an observer.
        Invalid: a bad name, or an empty file.
        UnsupportedType: a media type a notice cannot carry.
        TooLarge: more than ``limit`` bytes.
        TypeMismatch: the bytes are not of the declared type, or the party uploaded them
            to the channel before as another type (text that is GeoJSON too, say): an
            upload never changes, and notices may list it already.
    """
    await _channel_of_party(db, actor, channel_id)
    if actor.role is Role.OBSERVER:
        raise Forbidden("observers decide nothing: only operators and admins upload files")
    check_name(name)
    check = ContentCheck(media_type_of(content_type), limit=limit)
    sha256 = await blobs.store(chunks, check)
    attachment = Attachment(sha256, check.size, check.media_type, name)
    async with db.session() as session:
        uploads = Uploads(session)
        created = await uploads.add(
            Stored(
                channel=channel_id,
                party=actor.party,
                sha256=sha256,
                size=check.size,
                media_type=check.media_type,
                name=name,
                uploaded_by=actor.operator,
                uploaded_at=db.clock.now(),
            )
        )
        if not created:
            before = (await uploads.of_party(channel_id, actor.party, [sha256]))[sha256]
            if before.media_type != check.media_type:
                raise TypeMismatch(
                    f"{actor.party} uploaded this file to {channel_id} as {before.media_type} "
                    f"before: list it as that, it cannot be {check.media_type} too"
                )
        await session.commit()
    return Uploaded(attachment, created)


async def check_listed(
    db: Database, actor: Actor | None, channel_id: str, attachments: Sequence[Attachment]
) -> None:
    """Refuse a notice that lists a file its sender's party did not upload, as listed.

    Each file must have been uploaded to ``channel_id`` by the actor's party, with the
    size and media type listed (the name is the sender's to choose). Only an operator's
    notice is checked: the rules refuse anybody else's with 403 anyway.

    Raises:
        NotFound: no such channel, or not one of the actor's party.
        UnknownAttachment: a file listed that was not uploaded so.
    """
    if not attachments or actor is None or actor.role is not Role.OPERATOR:
        return
    async with db.session() as session:
        if await Repository(session).visible_head(actor.party, channel_id) is None:
            raise NotFound(f"no channel {channel_id}")
        stored = await Uploads(session).of_party(
            channel_id, actor.party, [a.sha256 for a in attachments]
        )
    for attachment in attachments:
        found = stored.get(attachment.sha256)
        if found is None:
            raise UnknownAttachment(
                f"{attachment.name} ({attachment.sha256}) was not uploaded to {channel_id} "
                f"by {actor.party}: upload it first"
            )
        if (found.size, found.media_type) != (attachment.size, attachment.media_type):
            raise UnknownAttachment(
                f"{attachment.name} ({attachment.sha256}) was uploaded as {found.media_type} "
                f"of {found.size} bytes, not {attachment.media_type} of {attachment.size}"
            )


async def download(
    db: Database, blobs: Blobs, actor: Actor, channel_id: str, sha256: str
) -> Download:
    """A file of a channel, for a party of it, its bytes checked against their hash.

    A party may download a file that a notice of the channel lists (as that notice lists
    it, the newest first), or that its own party uploaded there; anything else is not
    found, so that nobody learns what the other party uploaded and has not sent.

    Raises:
        NotFound: no such channel or file, or not one the caller may see.
        Corrupt: the stored file is missing or no longer has its hash (logged as an error).
    """
    async with db.session() as session:
        if (
            not is_sha256(sha256)
            or await Repository(session).visible_head(actor.party, channel_id) is None
        ):
            raise NotFound(f"no attachment {sha256} in channel {channel_id}")
        uploads = Uploads(session)
        found = await uploads.listed(channel_id, sha256)
        if found is None:
            own = (await uploads.of_party(channel_id, actor.party, [sha256])).get(sha256)
            if own is None:
                raise NotFound(f"no attachment {sha256} in channel {channel_id}")
            found = Attachment(sha256, own.size, own.media_type, own.name)
    try:
        content = await blobs.read(sha256)
    except Corrupt as error:
        log.error(
            "an attachment on disk does not match its hash; refused",
            extra={
                "channel": channel_id,
                "sha256": sha256,
                "path": str(error.path),
                "found": error.found,
            },
        )
        raise
    return Download(found, content)
