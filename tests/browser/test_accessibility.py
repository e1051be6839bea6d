"""axe-core on every view of the console, with notices on screen: no serious or critical
violation. (axe is injected by Playwright's evaluate, which the page's CSP does not govern;
the console itself loads nothing but its own files.)
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tests.browser.console import Browser, Console, Page, expect, plan, post_notice
from tests.e2e.conftest import Demo

AXE = Axe()


def serious(page: Page) -> list[str]:
    """The serious and critical violations axe finds on the page, one line each."""
    found: dict[str, Any] = AXE.run(page).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in found["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_every_view_has_no_serious_or_critical_accessibility_violation(
    browser: Browser, demo: Demo
) -> None:
    plan(demo, "ana", "Water main renewal, Mill Lane", "Mill Lane", (3, 5))
    plan(demo, "dev", "Resurfacing, Mill Lane", "Mill Lane", (4, 6), priority="important")
    post_notice(demo, "ben", "Hydrant flushing, Elm Street", priority="urgent")
    page = browser.new_context().new_page()
    page.goto(demo.url)
    expect(page.get_by_label("Access token")).to_be_focused()
    found = {"sign-in": serious(page)}
    page.get_by_role("button", name="Sign in").click()  # an empty token: the error shows
    expect(page.locator("#signin-error")).to_have_text("Paste a token first.")
    found["sign-in with an error"] = serious(page)

    page.goto(f"{demo.url}/#token={demo.tokens['carla']}")
    roads = Console(page, demo, "carla")
    roads.expect_live()
    expect(page.locator("#inbox-list > li")).to_have_count(3)
    found["inbox"] = serious(page)
    roads.open_notice("Water main renewal, Mill Lane")
    found["notice detail"] = serious(page)
    roads.view("New notice")
    page.get_by_role("button", name="Send notice").click()  # no subject: errors show
    expect(page.locator("#compose-subject-error")).to_have_text("A notice needs a subject.")
    found["compose"] = serious(page)
    roads.view("Log")
    # 3 sent, the conflict of the two Mill Lane plans, 2 receipts
    expect(page.locator("#log-list > li")).to_have_count(6)
    found["log"] = serious(page)
    roads.view("Timeline")
    expect(page.locator(".bar.clash")).to_have_count(2)
    expect(page.locator(".bar.conflict")).to_have_count(2)
    found["timeline"] = serious(page)
    roads.view("Policy")
    expect(page.locator("#policy-table")).to_be_visible()
    found["policy"] = serious(page)

    assert {view: problems for view, problems in found.items() if problems} == {}
