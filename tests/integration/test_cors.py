"""A web page on another origin calls the REST API: preflights, and answers it may read.

The browser enforces CORS; what is tested here is what the server tells it. A page from
an allowed origin is answered with ``Access-Control-Allow-Origin`` on every response,
problems included, so that it reads the problem rather than an opaque network error; a
page from any other origin is told nothing that would let it read.

Each test runs on SQLite and PostgreSQL, with the app allowing ``PAGE`` unless the test
says otherwise (``settings`` below overrides the fixture of ``conftest.py``).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from server.config import Settings
from server.service import demo
from tests.integration.conftest import Api

PAGE = "http://console.example.test:3000"
STRANGER = "http://stranger.example.test"
NOTICES = f"/api/v1/channels/{demo.CHANNEL}/notices"


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """The app's settings, allowing the origins a test passes (indirectly), else ``PAGE``."""
    origins: list[str] = getattr(request, "param", [PAGE])
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        cors_origins=origins,
    )


def preflight_headers(origin: str, method: str) -> dict[str, str]:
    """What a browser sends before a request with a token and a JSON body."""
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type,x-request-id",
    }


async def rest_operations(api: Api) -> list[tuple[str, str]]:
    """Every REST operation (method, concrete path) that the OpenAPI document lists."""
    document = (await api.client.get("/openapi.json")).json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/")
    ]


async def test_every_rest_route_answers_the_preflight_of_an_allowed_page(api: Api) -> None:
    operations = await rest_operations(api)
    assert ("GET", "/api/v1/me") in operations
    assert ("POST", "/api/v1/channels/x/notices") in operations

    for method, path in operations:
        response = await api.client.options(path, headers=preflight_headers(PAGE, method))

        assert response.status_code == 200, (method, path, response.text)
        assert response.headers["access-control-allow-origin"] == PAGE
        assert method in response.headers["access-control-allow-methods"].split(", ")
        allowed = response.headers["access-control-allow-headers"].lower().split(", ")
        assert {"authorization", "content-type", "x-request-id"} <= set(allowed)
        assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused_without_an_allow_origin(
    api: Api,
) -> None:
    response = await api.client.options("/api/v1/me", headers=preflight_headers(STRANGER, "GET"))

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_for_a_method_the_api_does_not_use_is_refused(api: Api) -> None:
    response = await api.client.options("/api/v1/me", headers=preflight_headers(PAGE, "TRACE"))

    assert response.status_code == 400
    assert "TRACE" not in response.headers["access-control-allow-methods"]


async def test_an_allowed_page_reads_the_answer_and_its_request_id(api: Api) -> None:
    response = await api.client.get(
        "/api/v1/me", headers={**api.auth("carla"), "Origin": PAGE, "X-Request-Id": "page-1"}
    )

    assert response.status_code == 200
    assert response.json()["operator"]["id"] == "carla"
    assert response.headers["access-control-allow-origin"] == PAGE
    assert response.headers["access-control-expose-headers"] == "x-request-id"
    assert response.headers["x-request-id"] == "page-1"
    assert "Origin" in response.headers["vary"]


async def test_a_page_from_another_origin_is_not_allowed_to_read_the_answer(api: Api) -> None:
    response = await api.client.get("/api/v1/me", headers={**api.auth("carla"), "Origin": STRANGER})

    # The request itself is served (CORS is the browser's to enforce), but the browser
    # will keep the answer from the page: nothing says that origin may read it.
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_problems_are_readable_by_an_allowed_page(api: Api) -> None:
    page = {"Origin": PAGE}
    too_large = {**page, **api.auth("ana"), "content-type": "application/json"}
    answers = {
        401: await api.client.get("/api/v1/me", headers=page),
        404: await api.client.get(
            "/api/v1/channels/no-such-channel", headers={**page, **api.auth("ana")}
        ),
        422: await api.client.post(
            NOTICES, headers={**page, **api.auth("ana")}, json={"id": "not-a-uuid"}
        ),
        413: await api.client.post(
            NOTICES, headers={**too_large, "content-length": "70000"}, content=b"{}"
        ),
    }

    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["access-control-allow-origin"] == PAGE, status
        assert response.headers["access-control-expose-headers"] == "x-request-id"
        assert response.json()["status"] == status


async def test_a_sent_notice_is_readable_by_an_allowed_page(api: Api) -> None:
    body = {"id": str(uuid.uuid4()), "subject": "Water main renewal, Mill Lane"}

    response = await api.client.post(
        NOTICES, headers={**api.auth("ana"), "Origin": PAGE}, json=body
    )

    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == PAGE


@pytest.mark.parametrize("settings", [["*"]], indirect=True, ids=["any origin"])
async def test_a_server_that_allows_any_origin_answers_every_page(api: Api) -> None:
    preflight = await api.client.options("/api/v1/me", headers=preflight_headers(STRANGER, "GET"))
    answer = await api.client.get("/api/v1/me", headers={**api.auth("ana"), "Origin": STRANGER})
    problem = await api.client.get("/api/v1/me", headers={"Origin": STRANGER})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert problem.status_code == 401
    assert problem.headers["access-control-allow-origin"] == "*"
    # "*" is never combined with credentials: a browser would refuse it, and there are none.
    assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize("settings", [[]], indirect=True, ids=["no origins"])
async def test_a_server_that_allows_no_origin_lets_no_page_read(api: Api) -> None:
    preflight = await api.client.options("/api/v1/me", headers=preflight_headers(PAGE, "GET"))
    answer = await api.client.get("/api/v1/me", headers={**api.auth("ana"), "Origin": PAGE})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


async def test_a_request_without_an_origin_is_answered_as_before(api: Api) -> None:
    response: httpx.Response = await api.get("ana", "/api/v1/me")

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
