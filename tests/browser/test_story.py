"""The demo's story, played live in two browser contexts: Riverside Water (ana) and City
Roads (carla), each signed in through the link ``hotline demo`` prints.

The story tests also take the docs' screenshots when ``HOTLINE_SCREENSHOTS=1``.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.console import Browser, Console, days_from_now, expect, plan, post_notice
from tests.e2e.conftest import Demo


def test_water_sends_roads_sees_it_live_and_acknowledges_and_water_sees_the_acknowledgement(
    browser: Browser, demo: Demo, screenshots: Path | None
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    expect(water.page.locator("#presence [data-party=roads] .who")).to_have_text("carla")

    water.send(
        "Water main renewal, Mill Lane",
        body="Open trench on the north lane; one lane closed with signals.",
        window=(days_from_now(3), days_from_now(5)),
        area="Mill Lane",
    )

    # Roads has it live, and its console confirms receipt: delivered, on both sides.
    expect(roads.status("Water main renewal, Mill Lane")).to_have_text("delivered")
    expect(roads.page.locator("#announcer")).to_contain_text("New notice from Riverside Water")
    expect(water.page.locator("#notice-status")).to_have_text("delivered")
    roads.open_notice("Water main renewal, Mill Lane")
    roads.acknowledge()

    expect(water.page.locator("#notice-status")).to_have_text("acknowledged")
    expect(water.page.locator("#announcer")).to_contain_text("acknowledged by carla")
    water.view("Notices")
    expect(water.status("Water main renewal, Mill Lane")).to_have_text("acknowledged")

    # Every event of the story is in the log, verified: sent, received, acknowledged.
    water.view("Log")
    events = water.page.locator("#log-list > li")
    expect(events).to_have_count(3)
    expect(events.locator(".type")).to_have_text(
        ["notice.sent", "notice.received", "notice.acknowledged"]
    )
    expect(events.locator(".verified")).to_have_text(["✓ verified"] * 3)

    if screenshots:
        take_pictures(demo, water, roads, screenshots)


def take_pictures(demo: Demo, water: Console, roads: Console, folder: Path) -> None:
    """The main views, with a few more notices so that they show what they are for."""
    plan(demo, "carla", "Resurfacing, Mill Lane", "Mill Lane", (4, 6), priority="important")
    plan(demo, "ben", "Hydrant flushing, Elm Street", "Elm Street", (0.1, 0.25), priority="urgent")
    post_notice(demo, "dev", "Line painting, Station Road", area="Station Road")
    for page in (water, roads):
        page.page.set_viewport_size({"width": 1200, "height": 800})
    roads.view("Notices")
    expect(roads.page.locator("#inbox-list > li")).to_have_count(4)
    roads.screenshot(folder, "inbox")
    roads.open_notice("Water main renewal, Mill Lane")
    roads.screenshot(folder, "notice")
    water.view("Timeline")
    expect(water.page.locator(".bar.clash")).to_have_count(2)
    water.screenshot(folder, "timeline")
    water.view("Log")
    water.screenshot(folder, "log")
    water.view("New notice")
    water.screenshot(folder, "compose")


def test_roads_offline_while_water_sends_three_has_exactly_those_three_in_order_when_back(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    roads_context = browser.new_context()
    roads = Console.sign_in(roads_context, demo, "carla")
    subjects = [f"Valve replacement, Elm Street #{n}" for n in (1, 2, 3)]

    roads_context.set_offline(True)
    expect(roads.connection).to_have_attribute("data-state", "offline")
    for subject in subjects:
        water.send(subject)
        expect(water.page.locator("#notice-status")).to_have_text("sent")
    expect(roads.page.locator("#inbox-list > li")).to_have_text(["No notices yet."])

    roads_context.set_offline(False)
    roads.expect_live()
    expect(roads.page.locator("#inbox-list > li .subject")).to_have_text(subjects[::-1])
    roads.view("Log")
    expect(roads.page.locator("#log-list > li .type")).to_have_text(
        ["notice.sent"] * 3 + ["notice.received"] * 3
    )


def test_roads_objects_with_a_reason_and_water_answers_with_an_update_then_cancels_it(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    water.send("Water main renewal, Mill Lane", area="Mill Lane")

    roads.open_notice("Water main renewal, Mill Lane")
    roads.object("We resurface Mill Lane that week.")
    expect(water.page.locator("#notice-status")).to_have_text("objected")
    expect(water.page.locator(".facts")).to_contain_text("“We resurface Mill Lane that week.”")

    water.page.get_by_role("link", name="Write an update or reply").click()
    subject = water.page.locator("#compose-form").get_by_label("Subject", exact=True)
    expect(subject).to_have_value("Re: Water main renewal, Mill Lane")
    subject.fill("Water main renewal, Mill Lane: moved a week later")
    water.page.get_by_role("button", name="Send notice").click()
    expect(water.page.locator("#notice-title")).to_have_text(
        "Water main renewal, Mill Lane: moved a week later"
    )
    expect(water.page.locator(".facts")).to_contain_text("Refers to")
    water.page.locator(".facts").get_by_role("link", name="Water main renewal, Mill Lane").click()
    expect(water.page.get_by_role("heading", name="Updates and replies")).to_be_visible()

    water.open_notice("Water main renewal, Mill Lane: moved a week later")
    water.cancel("Works postponed to the spring.")
    roads.view("Notices")
    expect(roads.status("Water main renewal, Mill Lane: moved a week later")).to_have_text(
        "cancelled"
    )
    expect(roads.page.locator("#announcer")).to_contain_text("was cancelled by ana")
