"""What goes wrong, and what the console says: a server that goes away and comes back, a
token revoked, a draft too large or refused, an event it cannot read, a deadline missed.
In each case the console says what happened and keeps nothing half-applied.
"""

from __future__ import annotations

import httpx

from tests.browser.console import (
    WAIT_MS,
    Browser,
    Console,
    alter_event,
    database,
    days_from_now,
    expect,
    post_notice,
)
from tests.e2e.conftest import Demo, Launcher

NOBODY = "00000000-0000-4000-8000-000000000000"
"""The id of a notice that was never sent."""


def test_a_server_that_goes_away_shows_reconnecting_then_live_again_with_what_it_missed(
    browser: Browser, demo: Demo, launch: Launcher
) -> None:
    roads = Console.sign_in(browser.new_context(), demo, "carla")

    assert demo.process.stop() == 0
    expect(roads.connection).to_have_attribute("data-state", "reconnecting")
    expect(roads.connection).to_contain_text("Reconnecting")
    # The same database and port, and `serve` rather than `demo`, which would issue new tokens.
    port = demo.url.rsplit(":", 1)[1]
    launch.start("serve", "--port", port, "--database-url", demo.database_url).wait_for_url()
    roads.expect_live()
    post_notice(demo, "ana", "Water main renewal, Mill Lane")

    expect(roads.status("Water main renewal, Mill Lane")).to_have_text("delivered")


def test_a_token_revoked_while_the_console_is_open_signs_it_out_and_says_why(
    browser: Browser, demo: Demo, launch: Launcher
) -> None:
    roads = Console.sign_in(browser.new_context(), demo, "carla")

    # A demo started again issues new tokens and revokes the old ones.
    assert demo.process.stop() == 0
    launch.demo(port=int(demo.url.rsplit(":", 1)[1]))

    expect(roads.page.locator("#signin-error")).to_have_text(
        "The server no longer accepts this token (unknown or revoked): signed out."
    )
    assert roads.page.evaluate("sessionStorage.getItem('hotline.token')") is None


def test_a_body_over_the_limit_is_refused_before_sending_and_the_draft_is_kept(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    posts: list[str] = []
    water.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    water.view("New notice")
    form = water.page.locator("#compose-form")
    form.get_by_label("Subject", exact=True).fill("Water main renewal, Mill Lane")
    form.get_by_label("Body", exact=True).fill("x" * 10_001)
    form.get_by_role("button", name="Send notice").click()

    expect(form.locator("#compose-body-error")).to_have_text("10,001 characters: at most 10,000.")
    expect(form.get_by_label("Body", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Body", exact=True)).to_be_focused()
    expect(form.locator("#compose-error")).to_contain_text("The notice was not sent")
    assert posts == []
    water.view("Notices")
    expect(water.page.locator("#inbox-list > li")).to_have_text(["No notices yet."])

    water.view("New notice")  # the draft is as it was left: one character less sends it
    expect(form.get_by_label("Subject", exact=True)).to_have_value("Water main renewal, Mill Lane")
    form.get_by_label("Body", exact=True).press("End")
    form.get_by_label("Body", exact=True).press("Backspace")
    form.get_by_role("button", name="Send notice").click()
    expect(water.page.locator("#notice-title")).to_have_text("Water main renewal, Mill Lane")


def test_a_notice_the_server_refuses_is_explained_at_its_field_and_the_draft_is_kept(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    water.view("New notice")
    form = water.page.locator("#compose-form")
    form.get_by_label("Subject", exact=True).fill("Hydrant flushing, Elm Street")
    start, end = days_from_now(0, 2), days_from_now(0, 6)
    form.get_by_label("Starts", exact=True).fill(start.astimezone().strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Ends", exact=True).fill(end.astimezone().strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Send notice").click()  # routine: two days' notice

    expect(form.locator("#compose-error")).to_contain_text("The server refused the notice")
    expect(form.locator("#compose-activity-error")).to_contain_text(
        "routine notices must be sent at least 2 days before the activity starts"
    )
    form.get_by_label("Priority", exact=True).select_option("urgent")
    form.get_by_role("button", name="Send notice").click()
    expect(water.page.locator("#notice-title")).to_have_text("Hydrant flushing, Elm Street")
    water.view("Notices")
    expect(water.page.locator("#inbox-list > li")).to_have_count(1)


def test_events_the_console_cannot_read_are_named_in_the_log_and_change_nothing(
    browser: Browser, demo: Demo, launch: Launcher
) -> None:
    first = post_notice(demo, "ana", "Water main renewal, Mill Lane")
    with httpx.Client(
        base_url=demo.url, headers=demo.auth("carla"), timeout=WAIT_MS / 1000
    ) as http:
        response = http.post(f"{demo.notices}/{first}/receipt")
        assert response.status_code == 200, response.text
    post_notice(demo, "ana", "Hydrant flushing, Elm Street")
    # Events the server signs but no client could read: a receipt of a notice never sent,
    # and a notice without a subject. (Rebuilding the tree makes them the signed log.)
    assert demo.process.stop() == 0
    alter_event(demo, 2, f"json_set(data, '$.notice', '{NOBODY}')")
    alter_event(demo, 3, "json_remove(data, '$.subject')", rebuild_tree=True)
    again = launch.demo(port=int(demo.url.rsplit(":", 1)[1]))

    # Seen from the sending side, whose console confirms no receipts of its own.
    water = Console.sign_in(browser.new_context(), again, "ben")
    problems = water.page.locator("#problems")
    expect(problems).to_contain_text(
        f"Event 2 (notice.received) could not be read: it names notice {NOBODY}, "
        "which the log never sent."
    )
    expect(problems).to_contain_text(
        "Event 3 (notice.sent) could not be read: subject is missing or not text."
    )
    expect(water.page.locator("#inbox-list .subject")).to_have_text(
        ["Water main renewal, Mill Lane"]
    )
    expect(water.status("Water main renewal, Mill Lane")).to_have_text("sent")
    water.view("Log")
    expect(water.page.locator("#log-list > li.effect-unreadable")).to_have_count(2)
    expect(water.page.locator("#log-summary")).to_have_text(
        "3 events, all verified. 2 could not be read and changed nothing."
    )


def test_a_missed_deadline_shows_overdue_with_the_time_past_it(
    browser: Browser, demo: Demo
) -> None:
    with database(demo) as db:  # an urgent notice must be answered within a second
        db.execute(
            "UPDATE channels SET policy = json_set(policy, '$.ack_deadline_seconds.urgent', 1) "
            "WHERE id = ?",
            (demo.channel,),
        )
    roads = Console.sign_in(browser.new_context(), demo, "carla")

    post_notice(demo, "ana", "Burst main, Station Road", priority="urgent")

    # The server's scheduler (server/service/scheduler.py) fires the notice's overdue action
    # at its deadline, a second after it is sent: it looks for due actions at least every
    # HOTLINE_DEADLINE_CHECK_SECONDS (1 s by default). Its event turns the notice overdue.
    expect(roads.status("Burst main, Station Road")).to_have_text("OVERDUE")
    expect(roads.row("Burst main, Station Road").locator(".deadline.late")).to_contain_text(
        "past the deadline"
    )
    expect(roads.page.locator("#announcer")).to_contain_text("is OVERDUE")
