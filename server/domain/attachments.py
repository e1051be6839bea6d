"""Files a notice carries: what they may be, what they may be called, and whether they are.

A notice lists each file by its SHA-256, size, media type and name, and its
``notice.sent`` event carries that list, so the log proves which file was sent. The
bytes themselves are uploaded first (``PUT …/attachments``) and stored under their hash.

Only a few kinds of file are accepted, each checked by its content, not trusted by its
``Content-Type``: a client that calls an executable ``image/png`` is refused, and so a
reader who opens what the other party sent opens what the log says it is::

    application/pdf        begins %PDF-
    image/png              begins with the PNG signature 89 50 4E 47 0D 0A 1A 0A
    image/jpeg             begins FF D8 FF
    application/geo+json   UTF-8 JSON: an object whose "type" is a GeoJSON type (RFC 7946)
    text/plain             UTF-8, no NUL

The check reads the bytes as they stream in (:class:`ContentCheck`), so a large upload is
never held whole, but for GeoJSON, which is parsed at the end. Nothing here does I/O.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from server.domain.errors import Invalid, TooLarge, TypeMismatch, UnsupportedType

__all__ = [
    "GEOJSON_TYPES",
    "MAX_ATTACHMENTS",
    "MAX_NAME",
    "MEDIA_TYPES",
    "Attachment",
    "ContentCheck",
    "check_name",
    "is_sha256",
    "media_type_of",
]

MEDIA_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "application/geo+json", "text/plain"}
)
"""The media types a notice may carry: a plan, a map, a photograph, a drawing, a note."""

MAX_ATTACHMENTS = 10
"""Files a notice may list at most."""

MAX_NAME = 255
"""The longest file name, in characters (most file systems' limit, in bytes, is the same)."""

GEOJSON_TYPES = frozenset(
    {
        "Feature",
        "FeatureCollection",
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
"""The ``type`` of a GeoJSON object (RFC 7946 §1.4)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
_HEAD = max(len(signature) for signature in _SIGNATURES.values())

# Bidirectional controls can make "gpj.exe" read "exe.jpg"; they are format characters
# (Cf), which other file names need (a zero-width joiner in an emoji, a Persian name's
# non-joiner), so only these are refused with the control characters (Cc).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def is_sha256(text: str) -> bool:
    """Whether ``text`` spells a SHA-256 as files are named: 64 lower-case hex digits."""
    return _SHA256.fullmatch(text) is not None


def check_name(name: str) -> str:
    """Refuse a file name a reader's computer should not be handed.

    A name is 1 to :data:`MAX_NAME` characters, is not ``.`` or ``..``, and holds no path
    separator (``/``, ``\\``), no control character, no line break and no bidirectional
    control. It only labels the file: the store names files by their hash.

    Raises:
        Invalid: the name breaks one of those rules (``field`` is ``name``).
    """
    if not 1 <= len(name) <= MAX_NAME:
        raise Invalid(f"a file name is 1 to {MAX_NAME} characters", field="name")
    if name in {".", ".."} or "/" in name or "\\" in name:
        raise Invalid("a file name holds no path: no / or \\, and is not . or ..", field="name")
    for char in name:
        if unicodedata.category(char) in {"Cc", "Zl", "Zp"} or char in _BIDI_CONTROLS:
            raise Invalid(
                f"a file name holds no control character (U+{ord(char):04X})", field="name"
            )
    return name


def media_type_of(content_type: str | None) -> str:
    """The media type a ``Content-Type`` header names, if a notice may carry it.

    Parameters are dropped, but for ``charset``, which must be UTF-8 if given: the bytes
    are checked as UTF-8 whatever the header says.

    Raises:
        UnsupportedType: no header, or one naming a type not in :data:`MEDIA_TYPES`.
    """
    kinds = ", ".join(sorted(MEDIA_TYPES))
    if not content_type:
        raise UnsupportedType(f"say what the file is with a Content-Type: one of {kinds}")
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type not in MEDIA_TYPES:
        raise UnsupportedType(f"{media_type} cannot be attached: one of {kinds}")
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedType(f"{media_type} is accepted in UTF-8 only, not {value.strip()}")
    return media_type


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file as a notice lists it: what the log proves was sent."""

    sha256: str
    """Lower-case hex of the file's SHA-256: its name in the store, and its proof."""
    size: int
    """In bytes, at least one."""
    media_type: str
    """One of :data:`MEDIA_TYPES`."""
    name: str
    """What the sender called it: a label, checked by :func:`check_name`."""

    def __post_init__(self) -> None:
        if not is_sha256(self.sha256):
            raise Invalid("an attachment's sha256 is 64 lower-case hex digits", field="attachments")
        if self.size < 1:
            raise Invalid("an attachment has at least one byte", field="attachments")
        if self.media_type not in MEDIA_TYPES:
            raise Invalid(f"{self.media_type} cannot be attached", field="attachments")
        try:
            check_name(self.name)
        except Invalid as error:
            raise Invalid(error.message, field="attachments") from None

    def wire(self) -> dict[str, Any]:
        """As the API and the log spell it."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "name": self.name,
        }


class ContentCheck:
    """Whether a stream of bytes is a file of ``media_type``, as it comes in.

    Feed it every chunk, then call :meth:`finish`; either refuses as soon as it knows.
    Holds the first few bytes for a signature, a UTF-8 decoder's state for text, and the
    whole file for GeoJSON only (at most ``limit`` bytes), which must be parsed.

    Args:
        media_type: one of :data:`MEDIA_TYPES`.
        limit: the most bytes a file may have.
    """

    def __init__(self, media_type: str, *, limit: int) -> None:
        if media_type not in MEDIA_TYPES:
            raise UnsupportedType(f"{media_type} cannot be attached")
        self.media_type = media_type
        self.limit = limit
        self.size = 0
        self._head = b""
        self._whole = bytearray() if media_type == "application/geo+json" else None
        self._text = (
            codecs.getincrementaldecoder("utf-8")("strict") if media_type == "text/plain" else None
        )

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the file.

        Raises:
            TooLarge: the file has grown beyond ``limit``.
            TypeMismatch: the bytes so far already show it is not of its type.
        """
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"files are limited to {self.limit} bytes", limit=self.limit)
        if len(self._head) < _HEAD:
            self._head += chunk[: _HEAD - len(self._head)]
            self._check_signature(final=False)
        if self._whole is not None:
            self._whole += chunk
        if self._text is not None:
            if b"\x00" in chunk:
                raise TypeMismatch("text/plain holds no NUL byte: this is not a text file")
            try:
                self._text.decode(chunk)
            except UnicodeDecodeError:
                raise TypeMismatch("text/plain is accepted as UTF-8, and this is not") from None

    def finish(self) -> None:
        """The file is whole: say whether it is of its type.

        Raises:
            Invalid: the file is empty (``field`` is ``body``).
            TypeMismatch: it is not of its type.
        """
        if self.size == 0:
            raise Invalid("an attachment cannot be empty", field="body")
        self._check_signature(final=True)
        if self._text is not None:
            try:
                self._text.decode(b"", final=True)
            except UnicodeDecodeError:
                raise TypeMismatch(
                    "text/plain is accepted as UTF-8; this ends mid-character"
                ) from None
        if self._whole is not None:
            _check_geojson(bytes(self._whole))

    def _check_signature(self, *, final: bool) -> None:
        signature = _SIGNATURES.get(self.media_type)
        if signature is None:
            return
        seen = self._head[: len(signature)]
        if not signature.startswith(seen) or (final and seen != signature):
            raise TypeMismatch(
                f"this is not {self.media_type}: its first bytes are not {signature!r}"
            )


def _check_geojson(raw: bytes) -> None:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        found = json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except UnicodeDecodeError:
        raise TypeMismatch("GeoJSON is UTF-8 JSON (RFC 7946), and this is not UTF-8") from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise TypeMismatch("this is not GeoJSON: it is not JSON") from None
    kind = found.get("type") if isinstance(found, dict) else None
    if not isinstance(kind, str) or kind not in GEOJSON_TYPES:
        raise TypeMismatch(
            'this is not GeoJSON: a GeoJSON text is an object whose "type" is one of '
            + ", ".join(sorted(GEOJSON_TYPES))
        )
