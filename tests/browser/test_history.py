"""Looking back: the shared timeline of both parties' planned works, and search and filters
over the history of notices.
"""

from __future__ import annotations

from tests.browser.console import Browser, Console, days_from_now, expect, plan, post_notice
from tests.e2e.conftest import Demo, Launcher, hotline


def test_the_timeline_groups_both_parties_windows_by_area_and_highlights_the_overlap(
    browser: Browser, demo: Demo
) -> None:
    plan(demo, "ana", "Water main renewal, Mill Lane", "Mill Lane", (3, 5))
    # The same street typed otherwise; then works that touch the others but do not overlap.
    plan(demo, "carla", "Resurfacing, Mill Lane", "  mill  lane ", (4, 6), priority="important")
    plan(demo, "dev", "Line painting, Mill Lane", "Mill Lane", (6, 7))
    plan(demo, "ben", "Valve check, Elm Street", "Elm Street", (3, 8))
    plan(demo, "ben", "Hydrant flushing, Mill Lane", "Mill Lane", (3, 7))  # to be cancelled
    post_notice(demo, "ben", "No window: a reminder")
    water = Console.sign_in(browser.new_context(), demo, "ana")
    water.open_notice("Hydrant flushing, Mill Lane")
    water.cancel("Flushing moved to the spring.")

    water.view("Timeline")
    lanes = water.page.locator(".lane")
    expect(lanes.locator("h3")).to_have_text(["Elm Street", "Mill Lane · 2 overlapping"])
    mill_lane = lanes.nth(1)
    expect(mill_lane.locator(".bar .label a")).to_have_text(
        ["Water main renewal, Mill Lane", "Resurfacing, Mill Lane", "Line painting, Mill Lane"]
    )
    expect(mill_lane.locator(".bar.clash .label a")).to_have_text(
        ["Water main renewal, Mill Lane", "Resurfacing, Mill Lane"]
    )
    expect(mill_lane.locator(".bar.side-a")).to_have_count(1)  # Riverside Water's
    expect(mill_lane.locator(".bar.side-b")).to_have_count(2)  # City Roads'
    # The server logged the overlap as a conflict: the timeline names it so.
    expect(mill_lane.locator(".bar.clash").first).to_contain_text(
        "conflict logged with “Resurfacing, Mill Lane” (City Roads Department)"
    )
    expect(mill_lane.locator(".bar.conflict")).to_have_count(2)
    expect(lanes.nth(0).locator(".bar.clash")).to_have_count(0)
    expect(water.page.locator("#timeline-summary")).to_contain_text("4 planned windows in 2 areas")


def test_search_and_filters_narrow_the_history(browser: Browser, demo: Demo) -> None:
    post_notice(demo, "ana", "Water main renewal, Mill Lane", body="Open trench, north lane.")
    post_notice(demo, "ben", "Hydrant flushing, Elm Street", priority="urgent")
    post_notice(demo, "carla", "Resurfacing, Mill Lane", priority="important")
    post_notice(demo, "dev", "Line painting, Station Road", body="Night works on the trench.")
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    roads.open_notice("Hydrant flushing, Elm Street")
    roads.acknowledge()
    roads.view("Notices")
    filters = roads.page.get_by_role("search", name="Search and filter notices")
    subjects = roads.page.locator("#inbox-list .subject")
    count = roads.page.locator("#inbox-count")
    expect(count).to_have_text("4 notices")

    filters.get_by_label("Search").fill("trench")  # in the body, of either party
    expect(subjects).to_have_text(["Line painting, Station Road", "Water main renewal, Mill Lane"])
    expect(count).to_have_text("2 of 4 notices match")
    filters.get_by_label("Search").fill("mill lane")
    expect(subjects).to_have_text(["Resurfacing, Mill Lane", "Water main renewal, Mill Lane"])
    filters.get_by_label("Direction").select_option(label="Received")
    expect(subjects).to_have_text(["Water main renewal, Mill Lane"])

    filters.get_by_role("button", name="Clear filters").click()
    expect(count).to_have_text("4 notices")
    filters.get_by_label("Status").select_option("acknowledged")
    expect(subjects).to_have_text(["Hydrant flushing, Elm Street"])
    filters.get_by_label("Status").select_option("")
    filters.get_by_label("Priority").select_option("important")
    expect(subjects).to_have_text(["Resurfacing, Mill Lane"])

    filters.get_by_label("Priority").select_option("")
    today = days_from_now(0).astimezone().date()
    filters.get_by_label("Sent from").fill(str(today))
    expect(count).to_have_text("4 notices")
    filters.get_by_label("Sent until").fill(str(today.replace(year=today.year - 1)))
    expect(roads.page.locator("#inbox-list > li")).to_have_text(["No notice matches."])


def test_each_channel_of_the_party_shows_its_own_notices(
    browser: Browser, demo: Demo, launch: Launcher
) -> None:
    for command in (
        ("party", "create", "parks", "--name", "City Parks"),
        ("channel", "create", "water-parks", "--party", "water", "--party", "parks"),
    ):
        made = hotline("admin", *command, "--database-url", demo.database_url, cwd=launch.directory)
        assert made.returncode == 0, made.stdout + made.stderr
    post_notice(demo, "carla", "Resurfacing, Mill Lane")
    water = Console.sign_in(browser.new_context(), demo, "ana")
    channel = water.page.get_by_label("Channel", exact=True)
    expect(channel.locator("option")).to_have_text(
        [
            "Riverside Water ↔ City Parks (water-parks)",
            "Riverside Water ↔ City Roads Department (water-roads)",
        ]
    )
    channel.select_option("water-roads")
    expect(water.page.locator("#inbox-list .subject")).to_have_text(["Resurfacing, Mill Lane"])

    channel.select_option("water-parks")
    water.expect_live()
    expect(water.page.locator("#inbox-list > li")).to_have_text(["No notices yet."])
    water.send("Tree roots near the main, Park Avenue")
    water.view("Log")
    expect(water.page.locator("#log-list .type")).to_have_text(["notice.sent"])

    channel.select_option("water-roads")
    water.view("Notices")
    expect(water.page.locator("#inbox-list .subject")).to_have_text(["Resurfacing, Mill Lane"])
