"""The SDK's calls for a notice's files: upload one, download one checked against the log.

A file is uploaded first, to the channel, and the server answers with its listing: its
SHA-256, size, media type and name. A notice then lists it, and its ``notice.sent`` event
keeps the listing for ever, so the log proves which file was sent::

    plan = await hotline.upload_attachment("water-roads", Path("mill-lane.pdf"))
    await hotline.send("water-roads", subject="Mill Lane: the plan", attachments=[plan])

    # the other party, from the notice's listing:
    data = await hotline.download_attachment("water-roads", notice.attachments[0])

A download is checked before it is handed over: bytes whose SHA-256 (or size) is not the
listing's raise :class:`~client.errors.AttachmentMismatch`, and are never returned. The
same check, :func:`check_attachment`, serves the files written beside an export.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path, PurePath
from urllib.parse import quote

from client.calls import Requester, channel_path
from client.errors import AttachmentMismatch, HotlineError
from client.protocol.schemas import Attachment

__all__ = [
    "AttachmentCalls",
    "check_attachment",
    "guess_media_type",
    "listings",
    "safe_file_name",
]

_MEDIA_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".geojson": "application/geo+json",
    ".txt": "text/plain",
}
"""By file extension (lower case), the media types the server takes."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def guess_media_type(name: str) -> str:
    """The media type of a file, from the extension of its ``name``.

    Raises:
        ValueError: the extension is none of .pdf, .png, .jpg, .jpeg, .geojson, .txt:
            say the type.
    """
    suffix = PurePath(name).suffix.lower()
    try:
        return _MEDIA_TYPES[suffix]
    except KeyError:
        known = ", ".join(sorted(_MEDIA_TYPES))
        raise ValueError(
            f"cannot tell the media type of {name!r} from its extension ({known}): give it"
        ) from None


def check_attachment(data: bytes, sha256: str, size: int | None = None) -> None:
    """Check that ``data`` are the bytes listed: this SHA-256 and, if given, this size.

    Raises:
        AttachmentMismatch: they are not.
    """
    found = hashlib.sha256(data).hexdigest()
    if size is not None and len(data) != size:
        raise AttachmentMismatch(
            f"the file {sha256} has {len(data)} bytes, the log lists {size}",
            sha256=sha256,
            found=found,
            size=len(data),
        )
    if found != sha256.lower():
        raise AttachmentMismatch(
            f"the file is not the one listed: its SHA-256 is {found}, the log lists {sha256}",
            sha256=sha256,
            found=found,
            size=len(data),
        )


def safe_file_name(name: str, fallback: str) -> str:
    """A listed name that is safe to write in a folder: its last part, or ``fallback``.

    The name comes from the other party: ``../../.bashrc`` must not leave the folder.
    """
    last = PurePath(name.replace("\\", "/")).name
    if last in {"", ".", ".."} or last.startswith(".") or "\x00" in last:
        return fallback
    return last


def _sha256(value: str) -> str:
    found = value.lower()
    if not _SHA256.fullmatch(found):
        raise ValueError(f"{value!r} is not a SHA-256 (64 hexadecimal digits)")
    return found


class AttachmentCalls:
    """Attachment calls of :class:`~client.sdk.HotlineClient` (a mixin)."""

    async def upload_attachment(
        self: Requester,
        channel: str,
        file: Path | str | bytes,
        *,
        media_type: str | None = None,
        name: str | None = None,
    ) -> Attachment:
        """Upload a file to ``channel``, for a notice to list; uploading it again is safe.

        Args:
            channel: the channel's id.
            file: a path to read, or the bytes themselves.
            media_type: ``application/pdf``, ``image/png``, ``image/jpeg``,
                ``application/geo+json`` or ``text/plain``; by default, guessed from the
                extension of ``name``.
            name: the file's name as the other party will see it; by default the path's
                last part (bytes need one).

        Returns:
            Its listing, to pass in ``send(..., attachments=[...])``.

        Raises:
            Invalid: empty, too big (413), or not what its media type says (422
                ``attachment-type-mismatch``); 415: a type the server does not take.
            AttachmentMismatch: the server listed other bytes than those sent.
            ValueError: no name for bytes, or a media type that cannot be guessed.
            OSError: the path cannot be read.
        """
        if isinstance(file, bytes):
            if name is None:
                raise ValueError("name the file: the other party sees the name")
            data = file
        else:
            path = Path(file)
            data = await asyncio.to_thread(path.read_bytes)
            name = path.name if name is None else name
        media_type = media_type or guess_media_type(name)
        answer = await self._exchange(
            "PUT",
            f"{channel_path(channel)}/attachments",
            content=data,
            headers={"Content-Type": media_type},
            params={"name": name},
            retry=True,  # the same bytes again are the same file: safe to repeat
        )
        listing = Attachment.model_validate(answer.json())
        # The server's hash of what it stored must be ours of what we sent.
        check_attachment(data, listing.sha256, listing.size)
        return listing

    async def download_attachment(
        self: Requester, channel: str, attachment: Attachment | str
    ) -> bytes:
        """A file of ``channel``, checked against its listing before it is returned.

        Args:
            channel: the channel's id.
            attachment: the listing (a notice's ``attachments``, whose size is checked
                too), or just the SHA-256.

        Returns:
            The file's bytes: their SHA-256 is the one asked for.

        Raises:
            AttachmentMismatch: the server sent other bytes (changed, cut short, too many).
            NotFound: no such file on the channel, or none the caller's party may see.
            ApiError: 500 ``attachment-corrupt``: the server found its copy altered.
            ValueError: ``attachment`` is not a SHA-256.
        """
        if isinstance(attachment, Attachment):
            sha256, size = _sha256(attachment.sha256), attachment.size
        else:
            sha256, size = _sha256(attachment), None
        answer = await self._exchange(
            "GET",
            f"{channel_path(channel)}/attachments/{quote(sha256)}",
            headers={"Accept": "*/*"},
            retry=True,
            limit=size,  # more than listed is a mismatch: no need to hold it all
        )
        body = answer.body
        try:
            if size is not None and len(body) > size:
                raise AttachmentMismatch(
                    f"the server sent more than the {size} bytes listed",
                    sha256=sha256,
                    found=hashlib.sha256(body).hexdigest(),
                    size=len(body),
                )
            check_attachment(body, sha256, size)
        except AttachmentMismatch as exc:
            raise AttachmentMismatch(
                f"{channel}: refused the download of {sha256}: {exc}",
                sha256=exc.sha256,
                found=exc.found,
                size=exc.size,
            ) from None
        return body


def listings(data: object) -> list[Attachment]:
    """The attachments a ``notice.sent`` event's ``data`` lists (none when it has none).

    Raises:
        HotlineError: the member is there but malformed.
    """
    if not isinstance(data, dict) or data.get("attachments") in (None, []):
        return []
    try:
        return [Attachment.model_validate(found) for found in data["attachments"]]
    except (TypeError, ValueError) as exc:
        raise HotlineError(f"a malformed list of attachments: {exc}") from exc
