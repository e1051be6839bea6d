"""The page itself: it loads its own files only, each found, asks for every module it
imports at once (the preload list in index.html is whole), and keeps to the strict
Content-Security-Policy the server sends (no inline script or style).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser.console import Browser, Console, expect, plan
from tests.e2e.conftest import Demo

WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective}: ${event.blockedURI || event.sample}`);
});
"""


def test_the_page_loads_its_own_modules_preloaded_and_breaks_no_csp_rule(
    browser: Browser, demo: Demo
) -> None:
    plan(demo, "carla", "Resurfacing, Mill Lane", "Mill Lane", (4, 6))
    context = browser.new_context()
    context.add_init_script(WATCH_CSP)
    answers: dict[str, int] = {}
    errors: list[str] = []
    context.on("response", lambda response: answers.setdefault(response.url, response.status))
    context.on(
        "page",
        lambda page: page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        ),
    )
    water = Console.sign_in(context, demo, "ana")
    expect(water.page.locator("#inbox-list > li")).to_have_count(1)
    for view in ("New notice", "Timeline", "Log"):
        water.view(view)
    water.open_notice("Resurfacing, Mill Lane")

    preloaded = set(
        water.page.locator("link[rel=modulepreload]").evaluate_all(
            "links => links.map((link) => new URL(link.href).pathname)"
        )
    )
    loaded = {urlsplit(url).path for url in answers if urlsplit(url).path.endswith(".js")}
    assert loaded == preloaded
    assert {url: status for url, status in answers.items() if status >= 400} == {}
    assert water.page.evaluate("window.__violations") == []
    assert errors == []
    csp = water.page.evaluate(
        "fetch('/').then((response) => response.headers.get('content-security-policy'))"
    )
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
