"""A notice's files in the console: attached on compose, listed on the notice, and
downloaded by the other party's console only once the browser has found their SHA-256
(``crypto.subtle``) to be the one the notice lists.

A file altered where the server keeps it is refused by the server (``attachment-corrupt``);
a file altered between the server and the browser is refused by the browser itself: in
both cases the console says why, and nothing is saved.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import Download, FilePayload, Route

from tests.browser.console import Browser, Console, expect
from tests.browser.test_accessibility import serious
from tests.e2e.conftest import Demo

PLAN = b"Mill Lane works: one lane closed, with traffic lights, 7 to 11 December.\n"
PLAN_SHA256 = hashlib.sha256(PLAN).hexdigest()
MAP = b'{"type": "Point", "coordinates": [-1.2588, 51.7526]}'
SUBJECT = "Mill Lane: the traffic plan"


def send_with_files(water: Console, *, check_accessibility: bool = False) -> None:
    """Ana attaches a plan and a map on compose, sees them listed, and sends."""
    water.view("New notice")
    form = water.page.locator("#compose-form")
    form.get_by_label("Subject", exact=True).fill(SUBJECT)
    files = form.get_by_label("Files (optional)")
    picked: list[FilePayload] = [
        {"name": "mill-lane-plan.txt", "mimeType": "text/plain", "buffer": PLAN},
        {"name": "works-area.geojson", "mimeType": "", "buffer": MAP},  # told by its name
    ]
    files.set_input_files(picked)
    chosen = form.locator("#compose-file-list > li")
    expect(chosen).to_have_count(2)
    expect(chosen.nth(0)).to_contain_text(f"mill-lane-plan.txt · text/plain · {len(PLAN)} bytes")
    expect(chosen.nth(1)).to_contain_text("works-area.geojson · application/geo+json")
    if check_accessibility:
        assert serious(water.page) == []
    form.get_by_role("button", name="Send notice").click()
    expect(water.page.locator("#notice-title")).to_have_text(SUBJECT)


def files_of(console: Console) -> list[str]:
    return console.page.locator("#notice-files > li .name").all_inner_texts()


def test_a_file_attached_on_compose_is_downloaded_checked_by_the_other_party(
    browser: Browser, demo: Demo, tmp_path: Path, screenshots: Path | None
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    roads = Console.sign_in(browser.new_context(accept_downloads=True), demo, "carla")

    send_with_files(water, check_accessibility=True)
    expect(water.page.locator("#notice-files > li")).to_have_count(2)
    roads.open_notice(SUBJECT)
    assert files_of(roads) == ["mill-lane-plan.txt", "works-area.geojson"]
    plan = roads.page.locator("#notice-files > li").first
    expect(plan.locator(".hash")).to_have_attribute("title", f"SHA-256 {PLAN_SHA256}")
    with roads.page.expect_download() as started:
        roads.page.get_by_role("button", name="Download mill-lane-plan.txt").click()
    download = started.value
    saved = tmp_path / "saved.txt"
    download.save_as(saved)

    assert download.suggested_filename == "mill-lane-plan.txt"
    assert saved.read_bytes() == PLAN
    expect(plan.locator(".download-status")).to_have_text(
        "✓ saved: its SHA-256 is the one the notice lists"
    )
    assert serious(roads.page) == []
    roads.page.set_viewport_size({"width": 1200, "height": 900})
    roads.screenshot(screenshots, "attachments")
    roads.view("Log")
    expect(roads.page.locator("#log-list .event[data-type='notice.sent']")).to_contain_text(
        "with 2 files: mill-lane-plan.txt, works-area.geojson"
    )


def test_a_file_altered_on_the_server_is_refused_with_a_clear_message(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    send_with_files(water)
    roads = Console.sign_in(browser.new_context(accept_downloads=True), demo, "carla")
    roads.open_notice(SUBJECT)

    root = Path(demo.database_url.removeprefix("sqlite:///")).parent / "hotline-attachments"
    (root / PLAN_SHA256[:2] / PLAN_SHA256).write_bytes(PLAN.replace(b"one lane", b"two lanes"))
    downloads: list[Download] = []
    roads.page.on("download", lambda download: downloads.append(download))
    roads.page.get_by_role("button", name="Download mill-lane-plan.txt").click()

    problem = roads.page.locator("#notice-problem")
    expect(problem).to_contain_text("mill-lane-plan.txt could not be downloaded")
    expect(problem).to_contain_text("its copy is not the file the notice lists")
    expect(roads.page.locator("#notice-files > li").first.locator(".download-status")).to_have_text(
        "✗ refused"
    )
    assert downloads == []


def test_a_file_altered_on_the_way_is_refused_by_the_browsers_own_check(
    browser: Browser, demo: Demo
) -> None:
    water = Console.sign_in(browser.new_context(), demo, "ana")
    send_with_files(water)
    roads = Console.sign_in(browser.new_context(accept_downloads=True), demo, "carla")
    roads.open_notice(SUBJECT)

    def tamper(route: Route) -> None:
        # What a proxy in the middle, or a lying server, would do: other bytes, a 200.
        answer = route.fetch()
        route.fulfill(response=answer, body=answer.body().replace(b"one lane", b"two lanes"))

    roads.page.route(f"**/attachments/{PLAN_SHA256}", tamper)
    downloads: list[Download] = []
    roads.page.on("download", lambda download: downloads.append(download))
    roads.page.get_by_role("button", name="Download mill-lane-plan.txt").click()

    problem = roads.page.locator("#notice-problem")
    expect(problem).to_contain_text("mill-lane-plan.txt was refused and not saved")
    expect(problem).to_contain_text(f"instead of {PLAN_SHA256}")
    assert downloads == []
