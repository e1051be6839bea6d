"""Text from elsewhere, made safe to show on a terminal.

Subjects, reasons, names and error details come from the other party or the server. A
terminal obeys control characters wherever they come from: ``ESC ] 0 ;`` retitles the
window, ``ESC [ 2 J`` clears the screen, others rewrite what was printed before. So they
are removed before any such text is printed for people (JSON output escapes them anyway).
"""

from __future__ import annotations

import logging
import re

from rich.markup import escape

__all__ = ["PrintableFormatter", "markup", "printable"]

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 controls but newline and tab, DEL, and the C1 controls."""


def printable(text: str) -> str:
    """``text`` without control characters, keeping newlines and tabs."""
    return _CONTROLS.sub("", text)


def markup(text: str) -> str:
    """``text`` as Rich markup that prints as itself: no controls, brackets escaped."""
    return escape(printable(text))


class PrintableFormatter(logging.Formatter):
    """Formats log records without control characters: their arguments may come from the server."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))
