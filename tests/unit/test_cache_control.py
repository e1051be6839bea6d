"""``RequestContext`` keeps API answers out of caches, and leaves a route's own choice alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Response

from server.api.middleware import RequestContext


def build_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContext, max_body_bytes=16)

    @app.get("/api/v1/plain")
    async def plain() -> dict[str, str]:
        return {"said": "nothing of caching"}

    @app.get("/api/v1/chosen")
    async def chosen(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=60"
        return {"said": "its own"}

    @app.get("/outside")
    async def outside() -> dict[str, str]:
        return {"said": "nothing, outside the API"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield client


async def test_an_api_answer_that_says_nothing_of_caching_is_not_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/plain")

    assert response.headers.get_list("cache-control") == ["no-store"]


async def test_an_api_route_that_chose_its_caching_keeps_its_choice_alone(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/chosen")

    assert response.headers.get_list("cache-control") == ["private, max-age=60"]


async def test_answers_outside_the_api_are_left_alone(client: httpx.AsyncClient) -> None:
    assert "cache-control" not in (await client.get("/outside")).headers


async def test_refusals_before_any_route_are_not_stored_either(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    too_big = await client.post("/api/v1/plain", content=b"x" * 17)

    assert missing.status_code == 404
    assert too_big.status_code == 413
    assert missing.headers["cache-control"] == too_big.headers["cache-control"] == "no-store"
