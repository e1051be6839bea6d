"""The browser's files: the SDK at /sdk/, the console at / and /console/, with their headers.

The files are compared with the ones in ``client/web/`` as they stand, so these tests hold
whatever the SDK and the console contain. The app allows no origin for the API (the
default of ``hotline serve``): the SDK must be importable from any page all the same.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.api.web import CONSOLE_DIR, SDK_DIR
from tests.integration.conftest import Api

STRANGER = "http://stranger.example.test"


def files_under(directory: Path, *suffixes: str) -> list[str]:
    """The paths, relative to ``directory``, of its files with these suffixes."""
    return sorted(
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file() and path.suffix in suffixes
    )


def assert_problem_404(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not-found"


async def test_every_sdk_module_is_javascript_that_a_page_on_any_origin_may_import(
    api: Api,
) -> None:
    modules = files_under(SDK_DIR, ".js")
    assert "errors.js" in modules

    for module in modules:
        response = await api.client.get(f"/sdk/{module}", headers={"Origin": STRANGER})

        assert response.status_code == 200, module
        assert response.content == (SDK_DIR / module).read_bytes()
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_sdk_is_revalidated_on_every_load_and_unchanged_files_cost_a_304(
    api: Api,
) -> None:
    first = await api.client.get("/sdk/errors.js")
    again = await api.client.get("/sdk/errors.js", headers={"If-None-Match": first.headers["etag"]})

    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["etag"]
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["access-control-allow-origin"] == "*"


async def test_the_console_page_is_served_at_the_root_under_a_strict_policy(api: Api) -> None:
    response = await api.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (CONSOLE_DIR / "index.html").read_bytes()
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy  # this server's sockets too, no other host's
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    assert "access-control-allow-origin" not in response.headers


async def test_every_console_file_is_served_under_console_with_the_same_policy(
    api: Api,
) -> None:
    files = files_under(CONSOLE_DIR, ".html", ".js", ".css", ".svg", ".png")
    assert "index.html" in files

    for name in files:
        response = await api.client.get(f"/console/{name}")

        assert response.status_code == 200, name
        assert response.content == (CONSOLE_DIR / name).read_bytes()
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        if name.endswith(".js"):
            assert response.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_the_browser_files_need_no_token_but_the_api_still_does(api: Api) -> None:
    for path in ("/", "/sdk/errors.js", "/console/index.html"):
        assert (await api.client.get(path)).status_code == 200, path
    for path in ("/api/v1/me", "/api/v1/channels"):
        response = await api.client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        "/sdk/",
        "/sdk/no-such-module.js",
        "/console/no-such-file.js",
        "/console/",
        "/sdk/%2e%2e/%2e%2e/__init__.py",
        "/api/v1/nowhere",
    ],
)
async def test_an_unknown_path_is_a_problem_not_a_page(api: Api, path: str) -> None:
    assert_problem_404(await api.client.get(path))


async def test_the_browser_files_may_only_be_read(api: Api) -> None:
    response = await api.client.post("/sdk/errors.js", content=b"x")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, HEAD"
