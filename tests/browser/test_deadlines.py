"""Deadlines that act, in the console: a policy agreed from an admin's console, the liveness
check it schedules answered with the "Answer" button, clashing plans shown on both notices
and on the timeline, and an unanswered notice chased to escalation. axe runs on each new part.

The server is the real ``hotline demo`` process. Its clock fires what is due at most a second
after it is due; the tests move time forward by moving a due action's time in the database
(behind the server's back, as the tamper tests do), or use a policy whose chase takes
seconds. They wait on what the page shows, never on time.

With ``HOTLINE_SCREENSHOTS=1`` they also take the docs' pictures of these views.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from tests.browser.console import (
    WAIT_MS,
    Browser,
    Console,
    Page,
    database,
    days_from_now,
    expect,
    local_input,
    plan,
    post_notice,
)
from tests.browser.test_accessibility import serious
from tests.e2e.clock_helpers import QUICK, prepare
from tests.e2e.conftest import Demo, Launcher

CHECKS = {"every_seconds": 3600, "answer_within_seconds": 600}
"""Hourly checks, ten minutes to answer: the test brings the first one forward."""


def rest(demo: Demo, operator: str, method: str, path: str, **kwargs: Any) -> Any:
    """One REST call to the demo channel as ``operator``; returns the JSON answer."""
    with httpx.Client(
        base_url=f"{demo.url}/api/v1/channels/{demo.channel}",
        headers=demo.auth(operator),
        timeout=WAIT_MS / 1000,
    ) as http:
        response = http.request(method, path, **kwargs)
    assert response.is_success, response.text
    return response.json()


def propose_checks(demo: Demo, admin: str) -> str:
    """Propose, as ``admin``, the policy in force with hourly liveness checks; its id."""
    in_force = rest(demo, admin, "GET", "/policy")["in_force"]
    proposal = str(uuid4())
    body = {"id": proposal, "policy": {**in_force, "checks": CHECKS}}
    rest(demo, admin, "POST", "/policy/proposals", json=body)
    return proposal


def bring_checks_forward(demo: Demo) -> None:
    """Make the channel's next liveness check due now, as if the hour had passed."""
    now = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with database(demo) as db:
        moved = db.execute(
            "UPDATE due_actions SET due_at = ? WHERE channel_id = ? AND kind = 'request_checks'",
            (now, demo.channel),
        ).rowcount
    assert moved == 1, "the agreed policy should have scheduled one tick of checks"


def accessibility(page: Page, where: str, found: dict[str, list[str]]) -> None:
    """axe's serious and critical findings on the page as it is, under ``where``."""
    found[where] = serious(page)


def test_a_policy_agreed_from_the_console_schedules_a_check_answered_with_its_button(
    browser: Browser, demo: Demo, screenshots: Path | None
) -> None:
    found: dict[str, list[str]] = {}
    proposal = propose_checks(demo, "wanda")
    roads_admin = Console.sign_in(browser.new_context(), demo, "raj")
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    water = Console.sign_in(browser.new_context(), demo, "ana")

    # The roads admin sees the water admin's proposal, what it changes, and accepts it.
    roads_admin.view("Policy")
    page = roads_admin.page
    expect(page.locator("#policy-pending")).to_contain_text("Proposed by Riverside Water (wanda)")
    expect(page.locator("#policy-changes")).to_contain_text(
        "liveness checks: none → every 1 hour, within 10 minutes"
    )
    expect(page.locator("#policy-table")).to_contain_text("Priority")
    accessibility(page, "policy with a proposal", found)
    roads_admin.screenshot(screenshots, "policy")
    page.get_by_role("button", name="Accept the proposal").click()
    expect(page.locator("#policy-since")).to_contain_text("In force since event #")
    expect(page.locator("#policy-pending")).to_have_text("No proposal is waiting.")
    expect(page.get_by_role("button", name="Accept the proposal")).to_have_count(0)
    expect(page.locator("#policy-history")).to_contain_text("accepted by raj")
    expect(page.locator("#announcer")).to_contain_text("accepted by City Roads Department")
    assert rest(demo, "carla", "GET", "/policy")["policy_id"] == proposal
    # An operator's console has no Accept button, and says who may answer.
    water.view("Policy")
    expect(water.page.locator("#policy-in-force")).to_contain_text(
        "every 1 hour, answered within 10 minutes"
    )

    # The hour passes: the server asks both parties; roads answers from its console.
    bring_checks_forward(demo)
    ours = roads.page.locator("#checks-list .check.ours")
    expect(ours).to_have_count(1)
    expect(ours).to_contain_text("the server asks City Roads Department to confirm it is listening")
    expect(ours).to_contain_text("Answer by")
    expect(roads.page.locator("#announcer")).to_contain_text("Liveness check: answer by")
    expect(water.page.locator("#checks-list")).to_contain_text(
        "Waiting for City Roads Department to answer a check"
    )
    accessibility(roads.page, "a check to answer", found)
    roads.screenshot(screenshots, "check")
    ours.get_by_role("button", name="Answer").click()

    expect(roads.page.locator("#checks-list .check.answered")).to_contain_text(
        "City Roads Department: answered by carla"
    )
    expect(roads.page.get_by_role("button", name="Answer")).to_have_count(0)
    expect(roads.page.locator("#announcer")).to_contain_text("Check answered by carla.")
    roads.view("Log")
    last = roads.page.locator("#log-list > li").last
    expect(last.locator(".type")).to_have_text("check.answered")
    expect(last).to_contain_text("City Roads Department answered in")
    # Water's own check still waits for water.
    expect(water.page.locator("#checks-list .check.ours button")).to_have_text("Answer")

    assert {where: problems for where, problems in found.items() if problems} == {}


def test_a_conflict_between_two_notices_is_shown_on_both_and_on_the_timeline_until_resolved(
    browser: Browser, demo: Demo, screenshots: Path | None
) -> None:
    found: dict[str, list[str]] = {}
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    water_plan = plan(demo, "ana", "Water main renewal, Mill Lane", "Mill Lane", (3, 5))
    plan(demo, "dev", "Resurfacing, Mill Lane", " mill  lane", (4, 6), priority="important")

    expect(roads.page.locator("#announcer")).to_contain_text(
        "CONFLICT: “Water main renewal, Mill Lane” and “Resurfacing, Mill Lane” overlap"
    )
    for subject in ("Water main renewal, Mill Lane", "Resurfacing, Mill Lane"):
        expect(roads.row(subject).locator(".badge.conflict")).to_have_text("conflict")
    roads.open_notice("Water main renewal, Mill Lane")
    conflict = roads.page.locator("#notice-conflicts .conflict.open")
    expect(conflict).to_contain_text("overlaps Resurfacing, Mill Lane (City Roads Department)")
    expect(conflict).to_contain_text("in mill lane")
    accessibility(roads.page, "a notice in conflict", found)
    roads.screenshot(screenshots, "conflict")
    roads.open_notice("Resurfacing, Mill Lane")
    expect(roads.page.locator("#notice-conflicts .conflict.open")).to_contain_text(
        "overlaps Water main renewal, Mill Lane (Riverside Water)"
    )
    expect(roads.page.locator(".log.compact .event").last.locator(".type")).to_have_text(
        "conflict.detected"
    )

    roads.view("Timeline")
    expect(roads.page.locator(".bar.conflict")).to_have_count(2)
    expect(roads.page.locator(".bar.conflict .conflict-note").first).to_contain_text(
        "conflict logged with"
    )
    expect(roads.page.locator("#timeline-summary")).to_contain_text("1 conflict logged")
    accessibility(roads.page, "timeline with a conflict", found)
    roads.screenshot(screenshots, "timeline-conflict")
    roads.view("Log")
    expect(roads.page.locator("#log-list > li").last).to_contain_text("they overlap in mill lane")

    # Water withdraws its plan: the conflict is resolved on both notices.
    rest(demo, "ana", "POST", f"/notices/{water_plan}/cancellation", json={"reason": "Postponed"})
    expect(roads.page.locator("#announcer")).to_contain_text("Conflict resolved")
    roads.open_notice("Resurfacing, Mill Lane")
    expect(roads.page.locator("#notice-conflicts .conflict.resolved")).to_contain_text(
        "“Water main renewal, Mill Lane” was cancelled"
    )
    roads.view("Timeline")
    expect(roads.page.locator(".bar.conflict")).to_have_count(0)
    roads.view("Notices")
    expect(roads.page.locator(".badge.conflict")).to_have_count(0)

    assert {where: problems for where, problems in found.items() if problems} == {}


def test_an_urgent_notice_left_unanswered_is_shown_reminded_then_escalated(
    browser: Browser, launch: Launcher, screenshots: Path | None
) -> None:
    # A channel whose urgent notices are due in 2 s, reminded at 4 s and 7 s, escalated at 8 s.
    with ThreadPoolExecutor(1) as thread:  # Playwright holds this thread's event loop
        thread.submit(asyncio.run, prepare(launch.database_url, QUICK)).result()
    demo = launch.demo(launch.database_url)
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    water = Console.sign_in(browser.new_context(), demo, "ana")

    post_notice(demo, "ana", "Burst main, Mill Lane", priority="urgent")
    expect(roads.page.locator("#announcer")).to_contain_text(
        "Reminder 1 of 2: “Burst main, Mill Lane” still awaits your answer."
    )
    expect(water.page.locator("#announcer")).to_contain_text(
        "“Burst main, Mill Lane” was ESCALATED to dev."
    )
    expect(roads.row("Burst main, Mill Lane").locator(".deadline")).to_contain_text(
        "reminded 2 of 2 · ESCALATED"
    )
    roads.open_notice("Burst main, Mill Lane")
    facts = roads.page.locator(".facts")
    expect(facts).to_contain_text("2 of 2 sent to City Roads Department, the last at")
    expect(facts).to_contain_text("to dev at")
    history = roads.page.locator(".log.compact .event")
    expect(history.locator(".type")).to_have_text(
        [
            "notice.sent",
            "notice.received",
            "notice.overdue",
            "notice.reminded",
            "notice.reminded",
            "notice.escalated",
        ]
    )
    expect(history.nth(4)).to_contain_text("reminder 2 of 2 to City Roads Department")
    expect(history.nth(5)).to_contain_text("escalated to dev")
    assert serious(roads.page) == []
    roads.screenshot(screenshots, "chase")


def test_a_bounding_box_typed_in_the_form_is_checked_sent_and_keeps_apart_plans_that_do_not_meet(
    browser: Browser, demo: Demo
) -> None:
    starts, ends = days_from_now(10), days_from_now(12)
    activity = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    west = [-0.13, 51.5, -0.12, 51.51]
    post_notice(
        demo, "ana", "Trench, Canal Street west", area="Canal Street", bbox=west, activity=activity
    )
    roads = Console.sign_in(browser.new_context(), demo, "carla")
    expect(roads.page.locator("#inbox-list > li")).to_have_count(1)

    roads.view("New notice")
    form = roads.page.locator("#compose-form")
    form.get_by_label("Subject", exact=True).fill("Paving, Canal Street east")
    form.get_by_label("Starts", exact=True).fill(local_input(starts))
    form.get_by_label("Ends", exact=True).fill(local_input(ends))
    box = form.get_by_label("Bounding box (optional)")
    box.fill("-0.02, 51.5, -0.01")
    form.get_by_role("button", name="Send notice").click()
    expect(roads.page.locator("#compose-bbox-error")).to_have_text(
        "Four numbers: west, south, east, north (degrees)."
    )
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("-0.02, 51.5, -0.01, 51.51")
    form.get_by_role("button", name="Send notice").click()
    expect(roads.page.locator("#compose-bbox-error")).to_have_text(
        "A box needs an area: the area names the place."
    )
    assert serious(roads.page) == []
    form.get_by_label("Area (street, district)").fill("canal street")
    form.get_by_role("button", name="Send notice").click()

    expect(roads.page.locator("#notice-title")).to_have_text("Paving, Canal Street east")
    expect(roads.page.locator(".facts")).to_contain_text(
        "canal street (box: west -0.02, south 51.5, east -0.01, north 51.51)"
    )
    events = rest(demo, "carla", "GET", "/events")["events"]
    assert [e["type"] for e in events] == ["notice.sent", "notice.received", "notice.sent"]
    assert events[-1]["data"]["bbox"] == [-0.02, 51.5, -0.01, 51.51]
    roads.view("Timeline")
    expect(roads.page.locator(".bar.clash")).to_have_count(2)  # the same area, by name
    expect(roads.page.locator(".bar.conflict")).to_have_count(0)  # but the boxes do not meet
    expect(roads.page.locator(".overlap-note").first).to_contain_text("(no conflict logged)")
