"""Signing in and out, and where the token goes: into this tab's sessionStorage, into
request headers and the socket's first message, and never into an address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tests.browser.console import Browser, Console, expect, post_notice
from tests.e2e.conftest import Demo

TOKEN = "sessionStorage.getItem('hotline.token')"


def test_a_wrong_token_shows_an_error_and_nothing_is_kept(browser: Browser, demo: Demo) -> None:
    page = browser.new_context().new_page()
    page.goto(demo.url)

    page.get_by_label("Access token").fill("hl_not-a-token-of-this-server")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#signin-error")).to_have_text(
        "This token was not accepted: it is unknown, mistyped or revoked."
    )
    expect(page.get_by_label("Access token")).to_be_focused()
    expect(page.get_by_role("navigation", name="Views")).to_be_hidden()
    assert page.evaluate(TOKEN) is None


def test_a_wrong_token_in_a_sign_in_link_is_refused_and_leaves_the_address(
    browser: Browser, demo: Demo
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo.url}/#token=hl_revoked-or-never-issued")

    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    assert "hl_" not in page.url
    assert page.evaluate(TOKEN) is None


def test_a_pasted_token_signs_in_for_this_tab_and_signing_out_forgets_it(
    browser: Browser, demo: Demo
) -> None:
    post_notice(demo, "carla", "Road closure, Mill Lane")
    page = browser.new_context().new_page()
    page.goto(demo.url)
    page.get_by_label("Access token").fill(demo.tokens["ben"])
    page.get_by_role("button", name="Sign in").click()
    console = Console(page, demo, "ben")
    expect(console.status("Road closure, Mill Lane")).to_have_text("delivered")
    expect(page.locator("#who")).to_contain_text("Ben Okafor · Riverside Water")
    assert page.evaluate(TOKEN) == demo.tokens["ben"]

    page.reload()  # the tab keeps its session
    console.expect_live()
    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_label("Access token")).to_be_focused()
    assert page.evaluate(TOKEN) is None
    # The checkpoint stays behind: the next sign-in holds the server to it.
    stored = page.evaluate("Object.keys(localStorage)")
    assert f"hotline:{demo.url}:{demo.channel}" in stored


def test_the_token_never_appears_in_a_request_url_and_no_request_leaves_the_machine(
    browser: Browser, demo: Demo
) -> None:
    context = browser.new_context()
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    context.on("page", lambda page: page.on("websocket", lambda ws: urls.append(ws.url)))
    water = Console.sign_in(context, demo, "ana")

    water.send("Hydrant flushing, Elm Street", priority="urgent", area="Elm Street")
    for view in ("Notices", "Timeline", "Log"):
        water.view(view)
    water.page.reload()
    water.expect_live()

    token = demo.tokens["ana"]
    assert token not in water.page.url
    assert any(url.startswith("ws://") for url in urls), "the socket was not seen"
    assert any("/api/v1/channels/" in url for url in urls)
    for url in urls:
        assert token not in url
        assert "token" not in urlsplit(url).query
        host = urlsplit(url).hostname or ""
        assert host == "localhost" or ipaddress.ip_address(host).is_loopback, url
