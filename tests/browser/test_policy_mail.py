"""The policy's mail switch in the console: an admin proposes ``mail_when_offline`` with a
checkbox, the other party's admin accepts it, and both consoles show it in force; an
operator sees the switch but no form. axe runs on the view with the form on screen.

The server is the real ``hotline demo`` process (wanda: water's admin, raj: roads'); the
tests wait on what the page shows, never on time.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.console import WAIT_MS, Browser, Console, expect
from tests.browser.test_accessibility import serious
from tests.e2e.conftest import Demo


def policy(demo: Demo, operator: str) -> Any:
    """The channel's policy state over REST, as ``operator`` reads it."""
    response = httpx.get(
        f"{demo.url}/api/v1/channels/{demo.channel}/policy",
        headers=demo.auth(operator),
        timeout=WAIT_MS / 1000,
    )
    assert response.is_success, response.text
    return response.json()


def test_an_admin_proposes_mail_for_unseen_notices_with_a_checkbox_and_the_other_accepts(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "wanda")
    roads = Console.sign_in(browser.new_context(), demo, "raj")
    operator = Console.sign_in(browser.new_context(), demo, "ana")

    water.view("Policy")
    page = water.page
    box = page.get_by_label(
        "Mail a notice to the receiving party's operators when none of them has seen it"
    )
    expect(page.locator("#policy-table-mail")).to_have_text("no")
    expect(box).not_to_be_checked()
    assert serious(page) == []
    # Unchanged, there is nothing to propose, and nothing is sent.
    page.get_by_role("button", name="Propose").click()
    expect(page.locator("#policy-propose-status")).to_have_text(
        "Nothing to propose: the policy in force says so already."
    )
    assert policy(demo, "wanda")["pending"] is None

    box.check()
    page.get_by_role("button", name="Propose").click()
    expect(page.locator("#policy-pending")).to_contain_text("Proposed by Riverside Water (wanda)")
    expect(page.locator("#policy-changes")).to_have_text("mail when unseen: no → yes")
    expect(page.locator("#policy-propose-status")).to_have_text("")
    pending = policy(demo, "raj")["pending"]
    assert pending["policy"]["mail_when_offline"] is True
    # Everything else is the policy in force, as it was.
    in_force = policy(demo, "raj")["in_force"]
    assert {**pending["policy"], "mail_when_offline": False} == in_force

    roads.view("Policy")
    expect(roads.page.locator("#policy-changes")).to_have_text("mail when unseen: no → yes")
    roads.page.get_by_role("button", name="Accept the proposal").click()
    expect(roads.page.locator("#policy-pending")).to_have_text("No proposal is waiting.")
    for console in (water, roads):
        expect(console.page.locator("#policy-table-mail")).to_contain_text(
            "yes: a notice the receiving party has not seen a while after it was sent is "
            "mailed to its operators"
        )
    expect(roads.page.locator("#policy-mail")).to_be_checked()
    assert policy(demo, "ana")["in_force"]["mail_when_offline"] is True

    # An operator reads the switch, and has no form to change it.
    operator.view("Policy")
    expect(operator.page.locator("#policy-table-mail")).to_contain_text("yes")
    expect(operator.page.locator("#policy-mail-form")).to_have_count(0)
    expect(operator.page.get_by_role("button", name="Propose")).to_have_count(0)
