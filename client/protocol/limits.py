"""What the protocol accepts: lengths, id shapes and characters, written down once.

The wire schemas (``schemas.py``, ``messages.py``) refuse anything outside these limits
with a clear error, and the server's domain checks them again, so that neither a REST
call nor a socket message can store what the other would refuse.
"""

from __future__ import annotations

import re

__all__ = [
    "EMAIL_PATTERN",
    "FILE_NAME_PATTERN",
    "ID_PATTERN",
    "LINE_PATTERN",
    "MAX_AREA",
    "MAX_BODY",
    "MAX_NAME",
    "MAX_REASON",
    "MAX_SUBJECT",
    "NONBLANK_LINE_PATTERN",
    "NONBLANK_TEXT_PATTERN",
    "TEXT_PATTERN",
    "check_line",
    "check_text",
]

MAX_SUBJECT = 200
MAX_BODY = 10_000
MAX_AREA = 200
MAX_REASON = 2_000
MAX_NAME = 200

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Ids of parties, operators and channels: short, lower-case, safe in a URL and a log."""

EMAIL_PATTERN = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
"""An e-mail address as HTML's ``<input type=email>`` accepts it (the WHATWG rule), with
RFC 5321's limit of 64 characters before the ``@`` (``server/service/admin.py`` says why)."""

# C0 and C1 controls and DEL, but for tab, line feed and carriage return in free text:
# they can hide text from a reader, move a terminal's cursor, or (NUL) not be stored at all.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_LINE_BREAKS = r"\r\n\u2028\u2029"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}]")

# The same rules as JSON Schema patterns, for the OpenAPI and AsyncAPI documents: a client
# (or a fuzzer) that reads the document knows what the server accepts without trying.
# Written in the syntax that ECMA-262, Python's ``re`` and Rust's ``regex`` read alike.
_TEXT = f"[^{_CONTROLS}]"
_LINE = f"[^{_CONTROLS}{_LINE_BREAKS}]"
TEXT_PATTERN = f"^{_TEXT}*$"
"""Free text: no control characters but tab and line breaks (:func:`check_text`)."""
LINE_PATTERN = f"^{_LINE}*$"
"""One line: no control characters, no line breaks (:func:`check_line`)."""
NONBLANK_TEXT_PATTERN = rf"^{_TEXT}*[^\s{_CONTROLS}]{_TEXT}*$"
"""Free text with something to read: :data:`TEXT_PATTERN`, not only white space."""
NONBLANK_LINE_PATTERN = rf"^{_LINE}*[^\s{_CONTROLS}{_LINE_BREAKS}]{_LINE}*$"
"""One line with something to read: :data:`LINE_PATTERN`, not only white space."""

# A file name refuses every control character (tab too), line and paragraph separators,
# the bidirectional controls that can make "gpj.exe" read "exe.jpg", and path separators.
_NOT_IN_FILE_NAMES = (
    r"\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069/\\"
)
_NAMED = f"[^{_NOT_IN_FILE_NAMES}]"
_NAMED_NOT_DOT = f"[^{_NOT_IN_FILE_NAMES}.]"
FILE_NAME_PATTERN = (
    f"^(?:{_NAMED_NOT_DOT}|\\.{_NAMED_NOT_DOT}|{_NAMED_NOT_DOT}{_NAMED}|{_NAMED}{{3,}})$"
)
"""A file's name as the server takes it (``server/domain/attachments.py``, ``check_name``):
none of those characters, and not ``.`` or ``..``."""


def check_text(value: str) -> str:
    """Refuse control characters in free text (tabs and line breaks are fine).

    Raises:
        ValueError: the text holds a control character.
    """
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def check_line(value: str) -> str:
    """Refuse control characters and line breaks in a one-line text.

    Raises:
        ValueError: the text holds a control character or a line break.
    """
    if _LINE_BREAK.search(check_text(value)):
        raise ValueError("must be a single line")
    return value
