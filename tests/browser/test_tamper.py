"""A history changed behind the server's back stops the console, with a red banner that
says what happened, as ``tests/e2e/test_tamper.py`` shows for ``hotline verify`` and the
Python client.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.console import Browser, Console, alter_event, expect, post_notice
from tests.e2e.conftest import Demo, Launcher

SUBJECTS = [f"Water main, Elm Street #{n}" for n in range(3)]


def expect_stopped(console: Console) -> None:
    """The banner is up, the feed is stopped, and nothing can be done from the console."""
    page = console.page
    expect(page.get_by_role("alert").filter(has_text="stopped")).to_be_visible()
    expect(console.connection).to_have_attribute("data-state", "stopped")
    console.view("New notice")
    expect(page.locator("#compose-form").get_by_label("Subject", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Send notice")).to_be_disabled()


def test_an_event_changed_in_the_database_shows_the_red_banner_and_stops_the_console(
    browser: Browser, demo: Demo, screenshots: Path | None
) -> None:
    for subject in SUBJECTS:
        post_notice(demo, "ana", subject)
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    expect(roads.page.locator("#inbox-list > li")).to_have_count(3)

    alter_event(demo, 2, "replace(data, 'Elm Street #1', 'Oak Street #1')")
    roads.page.reload()  # the next visit reads the log again, from event 1

    banner = roads.page.locator("#stopped")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("The channel's log failed verification")
    expect(banner).to_contain_text("event 2")
    expect_stopped(roads)
    roads.view("Notices")
    expect(roads.page.get_by_role("link", name="Oak Street #1")).to_have_count(0)
    roads.page.set_viewport_size({"width": 1200, "height": 640})
    roads.screenshot(screenshots, "tampered")


def test_a_history_rewritten_while_the_console_is_open_is_a_split_view_and_stops_it(
    browser: Browser, demo: Demo, launch: Launcher
) -> None:
    for subject in SUBJECTS:
        post_notice(demo, "ana", subject)
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    expect(roads.page.locator("#inbox-list > li")).to_have_count(3)
    expect(roads.status(SUBJECTS[2])).to_have_text("delivered")

    # Someone with the database stops the server, rewrites an event, and has the server
    # rebuild (and sign) the tree over the new history when it starts again.
    assert demo.process.stop() == 0
    expect(roads.connection).to_have_attribute("data-state", "reconnecting")
    alter_event(demo, 2, "replace(data, 'Elm Street #1', 'Oak Street #1')", rebuild_tree=True)
    port = demo.url.rsplit(":", 1)[1]
    launch.start("serve", "--port", port, "--database-url", demo.database_url).wait_for_url()

    banner = roads.page.locator("#stopped")
    expect(banner).to_contain_text("The server's history was rewritten")
    expect_stopped(roads)
    # What the console showed before is kept, as evidence, but nothing can be done with it.
    roads.view("Notices")
    expect(roads.page.locator("#inbox-list > li")).to_have_count(3)
    roads.open_notice(SUBJECTS[0])
    expect(roads.page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
