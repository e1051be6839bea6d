"""What the protocol accepts: lengths, id shapes and characters, written down once.

The wire schemas (``schemas.py``, ``messages.py``) refuse anything outside these limits
with a clear error, and the server's domain checks them again, so that neither a REST
call nor a socket message can store what the other would refuse.
"""

from __future__ import annotations

import re

__all__ = [
    "ID_PATTERN",
    "MAX_AREA",
    "MAX_BODY",
    "MAX_NAME",
    "MAX_REASON",
    "MAX_SUBJECT",
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

# C0 and C1 controls and DEL, but for tab, line feed and carriage return in free text:
# they can hide text from a reader, move a terminal's cursor, or (NUL) not be stored at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")


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
