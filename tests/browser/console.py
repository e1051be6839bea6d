"""The web console as the browser tests drive it: a page per operator, and the few gestures
a person makes (sign in, send, open a notice, answer it), each waiting on what the page
shows rather than on time.

Also here: notices sent straight to the REST API (what the *other* party does, when a test
is about one console only), and the database's back door that the tamper tests use.

The test modules take Playwright's names from here, after the check that skips them all
(saying why) where Playwright is not installed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.conftest import Demo

if not os.environ.get("HOTLINE_REQUIRE_BROWSER"):  # where it is required, its absence fails
    pytest.importorskip("playwright", reason="browser tests need Playwright for Python")

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

# The test modules take Playwright's names from here (see the docstring).
__all__ = ["Browser", "Console", "Locator", "Page", "expect"]

WAIT_MS = 15_000
"""How long a page may take to show what a test waits for."""

expect.set_options(timeout=WAIT_MS)


class Console:
    """One operator's console in one page."""

    def __init__(self, page: Page, demo: Demo, operator: str) -> None:
        self.page = page
        self.demo = demo
        self.operator = operator

    @classmethod
    def sign_in(cls, context: BrowserContext, demo: Demo, operator: str) -> Console:
        """Open the demo's sign-in link for ``operator`` and wait until the log is live."""
        page = context.new_page()
        page.goto(f"{demo.url}/#token={demo.tokens[operator]}")
        console = cls(page, demo, operator)
        console.expect_live()
        return console

    @property
    def connection(self) -> Locator:
        """The connection's state in the header ("Live", "Reconnecting…", "Stopped")."""
        return self.page.locator("#connection")

    def expect_live(self) -> None:
        expect(self.connection).to_have_attribute("data-state", "live")

    def view(self, name: str) -> None:
        """Go to a view through the navigation bar: Notices, New notice, Timeline, Log."""
        link = self.page.get_by_role("navigation", name="Views").get_by_role("link", name=name)
        link.click()
        # The console shows a view on the hash's change, a moment after the click: until it
        # has, the view left is still the one on screen, its links and all.
        expect(link).to_have_attribute("aria-current", "page")

    def row(self, subject: str) -> Locator:
        """The inbox line of the notice with this subject."""
        link = self.page.get_by_role("link", name=subject, exact=True)
        return self.page.locator("#inbox-list > li").filter(has=link)

    def status(self, subject: str) -> Locator:
        """The status badge on a notice's inbox line."""
        return self.row(subject).locator(".badge.status")

    def inbox_subjects(self) -> list[str]:
        """The subjects in the inbox, top (newest) first."""
        return self.page.locator("#inbox-list > li .subject").all_inner_texts()

    def send(
        self,
        subject: str,
        *,
        body: str = "",
        priority: str = "routine",
        window: tuple[datetime, datetime] | None = None,
        area: str = "",
        ack_required: bool = True,
        refers_to: str | None = None,
    ) -> None:
        """Fill the compose form and send; returns once the page shows the sent notice."""
        self.view("New notice")
        form = self.page.locator("#compose-form")
        form.get_by_label("Subject", exact=True).fill(subject)
        form.get_by_label("Body", exact=True).fill(body)
        form.get_by_label("Priority", exact=True).select_option(priority)
        if window:
            form.get_by_label("Starts", exact=True).fill(local_input(window[0]))
            form.get_by_label("Ends", exact=True).fill(local_input(window[1]))
        form.get_by_label("Area (street, district)").fill(area)
        form.get_by_label("Acknowledgement required").set_checked(ack_required)
        if refers_to:
            choice = refers_to_label(self.page, refers_to)
            form.get_by_label("In reply to / update of").select_option(label=choice)
        form.get_by_role("button", name="Send notice").click()
        expect(self.page.locator("#notice-title")).to_have_text(subject)

    def open_notice(self, subject: str) -> None:
        """Open a notice from the inbox."""
        self.view("Notices")
        self.page.get_by_role("link", name=subject, exact=True).click()
        expect(self.page.locator("#notice-title")).to_have_text(subject)

    def acknowledge(self) -> None:
        """Acknowledge the notice on screen and wait until the log says so."""
        self.page.get_by_role("button", name="Acknowledge", exact=True).click()
        expect(self.page.locator("#notice-status")).to_have_text("acknowledged")

    def object(self, reason: str) -> None:
        """Object to the notice on screen, with a reason."""
        self.page.get_by_label("Reason for objecting (required)").fill(reason)
        self.page.get_by_role("button", name="Object", exact=True).click()
        expect(self.page.locator("#notice-status")).to_have_text("objected")

    def cancel(self, reason: str = "") -> None:
        """Cancel the notice on screen."""
        self.page.get_by_label("Reason for cancelling (optional)").fill(reason)
        self.page.get_by_role("button", name="Cancel notice").click()
        expect(self.page.locator("#notice-status")).to_have_text("cancelled")

    def screenshot(self, folder: Path | None, name: str) -> None:
        """Save the page as docs/images/console-<name>.png when pictures were asked for."""
        if folder is not None:
            self.page.screenshot(path=folder / f"console-{name}.png", full_page=True)


def refers_to_label(page: Page, subject: str) -> str:
    """The full label of the "in reply to" option for an earlier notice's subject."""
    options = page.locator("#compose-refers option").all_inner_texts()
    return next(option for option in options if option.startswith(f"{subject} ("))


def local_input(moment: datetime) -> str:
    """A time as a ``datetime-local`` input takes it, in the browser's (and our) local time."""
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M")


def days_from_now(days: float, hours: float = 0) -> datetime:
    """A time to the minute, ``days`` and ``hours`` from now."""
    moment = datetime.now(UTC) + timedelta(days=days, hours=hours)
    return moment.replace(second=0, microsecond=0)


def post_notice(demo: Demo, operator: str, subject: str, **fields: Any) -> str:
    """Send a notice over REST, as another client of the party would; returns its id."""
    notice = {"id": str(uuid4()), "subject": subject, **fields}
    with httpx.Client(
        base_url=demo.url, headers=demo.auth(operator), timeout=WAIT_MS / 1000
    ) as http:
        response = http.post(demo.notices, json=notice)
    assert response.status_code == 201, response.text
    return notice["id"]


def plan(
    demo: Demo, operator: str, subject: str, area: str, days: tuple[float, float], **fields: Any
) -> str:
    """Announce works in ``area`` from ``days[0]`` to ``days[1]`` days from now, over REST."""
    starts, ends = (days_from_now(day) for day in days)
    activity = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    return post_notice(demo, operator, subject, area=area, activity=activity, **fields)


@contextmanager
def database(demo: Demo) -> Iterator[sqlite3.Connection]:
    """The demo's SQLite file, opened behind the server's back (and committed on leaving)."""
    path = demo.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db, db:
        yield db


def alter_event(demo: Demo, seq: int, data: str, *, rebuild_tree: bool = False) -> None:
    """Rewrite event ``seq``'s data with the SQL expression ``data`` (of the old ``data``),
    as someone with the database could. With ``rebuild_tree`` the channel's Merkle tree is
    dropped too, so that the server rebuilds and signs it over the new history when it next
    starts (it must be stopped first).
    """
    with database(demo) as db:
        db.execute(
            f"UPDATE events SET data = {data} WHERE channel_id = ? AND seq = ?",  # noqa: S608
            (demo.channel, seq),
        )
        if rebuild_tree:
            db.execute("DELETE FROM log_nodes WHERE channel_id = ?", (demo.channel,))
