"""The console on a phone (375 by 740 CSS pixels) and by keyboard alone: no view scrolls
sideways, and a notice can be sent and acknowledged without a pointer.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.console import Browser, Console, Locator, Page, expect, plan
from tests.e2e.conftest import Demo

PHONE = {"width": 375, "height": 740}
MAX_TABS = 80
"""Presses of Tab a test may spend looking for one control: more is a bug in the page."""


def sideways_scroll(page: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0 when it fits)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def tab_to(page: Page, target: Locator) -> list[str]:
    """Press Tab until ``target`` has the focus; returns what had it on the way, once each
    (a date and time field takes several presses: one per part)."""
    seen: list[str] = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return seen
        focused = page.evaluate("document.activeElement.id || document.activeElement.textContent")
        if not seen or seen[-1] != focused:
            seen.append(focused)
    raise AssertionError(f"{target} not reached in {MAX_TABS} presses of Tab; went by {seen}")


def test_no_view_scrolls_sideways_at_phone_width(
    browser: Browser, demo: Demo, screenshots: Path | None
) -> None:
    plan(  # long words everywhere: nothing may push the page wider than the phone
        demo,
        "ana",
        "Water main renewal on the whole of Mill Lane, numbers 2 to 140, with night works",
        "Mill Lane, numbers 2-140 and the junction with Station Road",
        (3, 5),
        body="Open trench on the north lane; one lane closed with signals. " * 20,
    )
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(demo.url)
    expect(page.get_by_label("Access token")).to_be_visible()
    widths = {"sign-in": sideways_scroll(page)}
    page.goto(f"{demo.url}/#token={demo.tokens['carla']}")
    roads = Console(page, demo, "carla")
    roads.expect_live()
    expect(page.locator("#inbox-list > li")).to_have_count(1)
    widths["inbox"] = sideways_scroll(page)
    page.locator("#inbox-list .subject").click()
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_be_visible()
    widths["notice"] = sideways_scroll(page)
    roads.screenshot(screenshots, "phone")
    for view in ("New notice", "Timeline", "Log", "Policy"):
        roads.view(view)
        widths[view] = sideways_scroll(page)

    assert widths == dict.fromkeys(widths, 0)


def test_a_notice_is_sent_and_acknowledged_by_keyboard_alone(browser: Browser, demo: Demo) -> None:
    water = Console.sign_in(browser.new_context(viewport=PHONE), demo, "ana")
    roads = Console.sign_in(browser.new_context(viewport=PHONE), demo, "carla")
    page = water.page

    tab_to(page, page.get_by_role("link", name="New notice"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New notice")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Subject", exact=True)).to_be_focused()
    page.keyboard.type("Hydrant flushing, Elm Street")
    passed = tab_to(page, page.get_by_role("button", name="Send notice"))
    assert passed == [
        "compose-body",
        "compose-priority",
        "compose-starts",
        "compose-ends",
        "compose-area",
        "compose-bbox",
        "compose-ack",
        "compose-refers",
        "compose-files",
    ]
    page.keyboard.press("Enter")
    expect(page.locator("#notice-title")).to_have_text("Hydrant flushing, Elm Street")

    page = roads.page
    tab_to(page, page.get_by_role("link", name="Hydrant flushing, Elm Street"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Acknowledge", exact=True))
    page.keyboard.press("Enter")
    expect(page.locator("#notice-status")).to_have_text("acknowledged")
    expect(water.page.locator("#notice-status")).to_have_text("acknowledged")
