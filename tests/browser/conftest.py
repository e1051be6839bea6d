"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, against a real
``hotline demo`` process (started by the end-to-end tests' ``Launcher``).

Where Chromium is absent the whole folder is skipped, saying why, unless
``HOTLINE_REQUIRE_BROWSER`` is set (as in CI), when it fails instead. ``HOTLINE_CHROMIUM``
names another Chromium binary. Playwright's own browser downloads are never used: the
browser is the system's, launched with its background traffic (updates, sync, field
trials) turned off, so that nothing leaves the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The e2e tests' server fixtures and failure report, shared rather than copied: importing
# them into this conftest registers them for this folder too.
from tests.e2e.conftest import Demo, Launcher, launch, pytest_runtest_makereport

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["launch", "pytest_runtest_makereport"]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> Path:
    """The Chromium binary the tests drive."""
    return Path(os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium"))


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or ``None`` if they can."""
    path = chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        return (
            f"browser tests need Chromium at {path} (apt install chromium, or set HOTLINE_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need Playwright for Python (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module; each test opens its own contexts in it.

    Not one per session: Playwright's synchronous API holds an event loop of its own while
    it runs, and the asyncio tests that run after this folder need the thread's loop free.
    """
    reason = _unavailable()
    if reason and os.environ.get("HOTLINE_REQUIRE_BROWSER"):
        pytest.fail(f"HOTLINE_REQUIRE_BROWSER is set, but {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def demo(browser: Browser, launch: Launcher) -> Demo:
    """A fresh demo server on its own SQLite file, once the browser is known to be there."""
    return launch.demo()


@pytest.fixture
def screenshots() -> Path | None:
    """Where the story tests save the docs' pictures, or ``None`` (the default) not to."""
    if not os.environ.get("HOTLINE_SCREENSHOTS"):
        return None
    folder = Path(__file__).resolve().parents[2] / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
