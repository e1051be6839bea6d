"""Text from the other party cannot drive the terminal the command line prints it on."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from client.terminal import PrintableFormatter, markup, printable


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("\x1b]0;pwned\x07Mill Lane", "]0;pwnedMill Lane"),  # retitles the window
        ("\x1b[2JMill Lane", "[2JMill Lane"),  # clears the screen
        ("Mill\rLane\x08\x7f", "MillLane"),  # rewrites what was printed
        ("\x9b2JMill Lane\x85", "2JMill Lane"),  # the same, with C1 controls
        ("\x00\x01\x1f", ""),
    ],
)
def test_control_characters_are_removed(hostile: str, shown: str) -> None:
    assert printable(hostile) == shown


def test_newlines_tabs_and_other_text_are_kept() -> None:
    text = "Water main renewal\n\tMill Lane, Straße 7 — 9 Dec [urgent] ✓"

    assert printable(text) == text


def test_markup_prints_as_the_text_itself_without_its_controls() -> None:
    printed = io.StringIO()
    console = Console(file=printed, width=200, highlight=False)

    console.print(markup("[bold]\x1b[2JMill Lane [/]"))

    assert printed.getvalue() == "[bold][2JMill Lane [/]\n"


def test_log_records_are_formatted_without_control_characters() -> None:
    formatter = PrintableFormatter("%(levelname)s: %(message)s")
    record = logging.LogRecord(
        "client.live", logging.WARNING, __file__, 1, "closed (%s)", ("\x1b]0;pwned",), None
    )

    assert formatter.format(record) == "WARNING: closed (]0;pwned)"
