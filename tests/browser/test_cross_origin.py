"""A page served from another origin imports the SDK from the Hotline server and sends,
receives and acknowledges: what the tutorial "your own web client" promises, and what the
server's CORS (any origin, for ``hotline demo``) makes possible.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.console import WAIT_MS, Browser, expect, post_notice
from tests.e2e.conftest import Demo

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Roads desk</title>
<script type="module" src="desk.js"></script></head>
<body>
  <p>Status: <span id="status">starting</span>, signed in as <span id="me">?</span></p>
  <form><input id="subject" aria-label="Subject"><button>Send</button></form>
  <p>Sent: <span id="sent">nothing</span></p>
  <ol id="events"></ol>
</body>
</html>
"""

DESK = """
import { HotlineClient } from "%(hotline)s/sdk/hotline.js";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
history.replaceState(null, "", location.pathname);
const hotline = new HotlineClient({ baseUrl: "%(hotline)s", token });
const me = await hotline.me();
document.querySelector("#me").textContent = me.operator.id;

const events = document.querySelector("#events");
hotline.subscribe("%(channel)s", {
  store: localStorage,
  onStatus: (state) => { document.querySelector("#status").textContent = state; },
  onEvent: async (event) => {
    const line = document.createElement("li");
    line.textContent = `${event.seq} ${event.type} ${event.data.subject ?? ""}`.trim();
    events.append(line);
    if (event.type === "notice.sent" && event.actor.party !== me.party.id) {
      await hotline.acknowledge("%(channel)s", event.data.notice);
    }
  },
});

document.querySelector("form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const subject = document.querySelector("#subject").value;
  const notice = await hotline.send("%(channel)s", { subject, area: "Station Road" });
  document.querySelector("#sent").textContent = `${notice.subject}: ${notice.status}`;
});
"""


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the test's folder without writing a line per request to standard error."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


TUTORIAL_PAGE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "web-client"
"""The page of the tutorial "your own web client", tested here as it is shipped."""


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Another origin: a second web server, on another port of the loopback, for ``folder``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="other-origin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT_MS / 1000)


@pytest.fixture
def other_origin(tmp_path: Path, demo: Demo) -> Iterator[str]:
    """Another origin serving the desk page."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(PAGE)
    (site / "desk.js").write_text(DESK % {"hotline": demo.url, "channel": demo.channel})
    with serving(site) as url:
        yield url


def test_a_page_from_another_origin_imports_the_sdk_and_sends_receives_and_acknowledges(
    browser: Browser, demo: Demo, other_origin: str
) -> None:
    page = browser.new_context().new_page()
    api_calls: list[tuple[str, str]] = []
    page.on("request", lambda r: api_calls.append((r.method, r.url)) if "/api/" in r.url else None)
    page.goto(f"{other_origin}/#token={demo.tokens['carla']}")
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#me")).to_have_text("carla")

    post_notice(demo, "ana", "Water main renewal, Mill Lane")
    events = page.locator("#events > li")
    expect(events).to_have_text(
        [
            "1 notice.sent Water main renewal, Mill Lane",
            "2 notice.received",
            "3 notice.acknowledged",
        ]
    )

    page.get_by_label("Subject").fill("Line painting, Station Road")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#sent")).to_have_text("Line painting, Station Road: sent")
    expect(events.nth(3)).to_have_text("4 notice.sent Line painting, Station Road")

    with httpx.Client(base_url=demo.url, headers=demo.auth("ana")) as http:
        notices = {n["subject"]: n for n in http.get(demo.notices).json()["items"]}
    assert notices["Water main renewal, Mill Lane"]["status"] == "acknowledged"
    assert notices["Water main renewal, Mill Lane"]["decision"]["operator"] == "carla"
    assert notices["Line painting, Station Road"]["sender"]["operator"] == "carla"
    # Every call went from the page's origin to the other one, CORS and all.
    assert api_calls
    assert all(url.startswith(demo.url) for _, url in api_calls)
    assert ("POST", f"{demo.url}{demo.notices}") in api_calls


def test_the_tutorial_page_from_another_origin_shows_a_live_inbox_and_acknowledges(
    browser: Browser, demo: Demo
) -> None:
    with serving(TUTORIAL_PAGE) as tutorial_origin:
        page = browser.new_context().new_page()
        page.goto(f"{tutorial_origin}/#server={demo.url}&token={demo.tokens['carla']}")
        expect(page.locator("#status")).to_have_text("live")
        expect(page.locator("#me")).to_have_text("Carla Rossi, City Roads Department")
        assert "token" not in page.url

        notice = post_notice(demo, "ana", "Hydrant flushing, Elm Street", priority="urgent")
        row = page.locator("#inbox > li").filter(has_text="Hydrant flushing, Elm Street")
        expect(row.locator("i")).to_have_text("delivered")
        row.get_by_role("button", name="Acknowledge").click()
        expect(row.locator("i")).to_have_text("acknowledged")
        expect(row.get_by_role("button")).to_have_count(0)
        expect(page.locator("#problem")).to_be_empty()

    with httpx.Client(base_url=demo.url, headers=demo.auth("ana")) as http:
        decided = http.get(f"{demo.notices}/{notice}").json()
    assert decided["status"] == "acknowledged"
    assert decided["decision"]["operator"] == "carla"
