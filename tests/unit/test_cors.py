"""HOTLINE_CORS_ORIGINS as people write it, and CORS headers even on the server's own crash.

The API's answers to pages are tested on the real app in tests/integration/test_cors.py;
here a tiny app with a route that crashes shows that the middleware sits outside even
Starlette's server-error handler.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from server.api import cors, problems
from server.config import Settings

PAGE = "http://console.example.test:3000"


@pytest.mark.parametrize(
    ("variable", "origins"),
    [
        ("", []),
        ("*", ["*"]),
        ("http://a.example.test", ["http://a.example.test"]),
        (
            "http://a.example.test, https://B.example.test:8443",
            ["http://a.example.test", "https://b.example.test:8443"],
        ),
        ('["http://a.example.test", "*"]', ["http://a.example.test", "*"]),
    ],
    ids=["empty", "any", "one", "comma-separated", "JSON list"],
)
def test_the_origins_are_read_as_a_comma_separated_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, variable: str, origins: list[str]
) -> None:
    monkeypatch.setenv("HOTLINE_CORS_ORIGINS", variable)

    assert Settings().cors_origins == origins


def test_no_origin_is_allowed_unless_one_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CORS_ORIGINS", raising=False)

    assert Settings().cors_origins == []


@pytest.mark.parametrize(
    "variable",
    ["http://a.example.test/", "http://a.example.test/console", "a.example.test", "[not json"],
)
def test_an_origin_that_could_never_match_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("HOTLINE_CORS_ORIGINS", variable)

    with pytest.raises(ValidationError, match="cors_origins"):
        Settings()


async def test_the_servers_own_crash_is_readable_by_an_allowed_page() -> None:
    app = FastAPI()
    problems.install(app)
    cors.install(app, [PAGE])

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    # The app's 500 is what is under test, not the exception the server logs after it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        response = await client.get("/crash", headers={"Origin": PAGE})

    assert response.status_code == 500
    assert response.json()["code"] == "internal-error"
    assert response.headers["access-control-allow-origin"] == PAGE
