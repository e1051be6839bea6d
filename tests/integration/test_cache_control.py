"""What caches may keep, on SQLite and PostgreSQL: no answer of the API, the web files kept.

Every answer under ``/api/`` is for the token that asked, and says ``Cache-Control:
no-store`` (``server/api/middleware.py``): a shared cache must never hand one operator's
channel, or a webhook's secret, to the next asker. The console's and the SDK's files keep
their ``no-cache`` (``server/api/web.py``): kept, but checked each time.

wanda is water's admin; ana water's operator. Loopback is allowed for webhooks here.
"""

from __future__ import annotations

import hashlib
from ipaddress import ip_network

import httpx
import pytest

from server.config import Settings
from server.service import demo
from tests.integration.conftest import Api

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"
RECEIVER = "http://127.0.0.1:9/hotline"  # the discard port: the app's worker calls it in vain
PLAN = b"Mill Lane: one lane closed, with traffic lights, 7 to 11 December.\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The integration settings, with loopback allowed for webhooks and a small body cap."""
    return settings.model_copy(
        update={"webhook_allow_networks": [ip_network("127.0.0.0/8")], "max_body_bytes": 4096}
    )


def not_stored(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store", response.request.url


async def test_the_answers_that_carry_a_webhook_secret_are_not_stored(api: Api) -> None:
    made = await api.post("wanda", f"{CHANNEL}/webhooks", {"url": RECEIVER})
    not_stored(made, 201)
    assert made.json()["secret"].startswith("whsec_")

    rotated = await api.post("wanda", f"{CHANNEL}/webhooks/{made.json()['id']}/rotate", {})

    not_stored(rotated, 200)
    assert rotated.json()["secret"].startswith("whsec_")


async def test_every_api_answer_is_not_stored_refusals_too(api: Api) -> None:
    sent = await api.send("ana")
    not_stored(sent, 201)
    not_stored(await api.get("ana", "/api/v1/me"), 200)
    not_stored(await api.get("ana", f"{CHANNEL}/events"), 200)
    not_stored(await api.get("ana", f"{CHANNEL}/notices/{sent.json()['id']}"), 200)
    not_stored(await api.get("ana", "/api/v1/log/key"), 200)
    not_stored(await api.client.get("/api/v1/me"), 401)
    not_stored(await api.get("ana", "/api/v1/channels/nowhere/events"), 404)
    too_big = await api.client.post(
        f"{CHANNEL}/notices", headers=api.auth("ana"), content=b"x" * 5000
    )
    not_stored(too_big, 413)


async def test_an_attachment_download_is_not_stored(api: Api) -> None:
    uploaded = await api.client.put(
        f"{CHANNEL}/attachments",
        params={"name": "plan.txt"},
        headers={**api.auth("ana"), "Content-Type": "text/plain"},
        content=PLAN,
    )
    not_stored(uploaded, 201)

    downloaded = await api.get("ana", f"{CHANNEL}/attachments/{hashlib.sha256(PLAN).hexdigest()}")

    not_stored(downloaded, 200)
    assert downloaded.content == PLAN


@pytest.mark.parametrize("path", ["/", "/console/app.js", "/sdk/hotline.js"])
async def test_the_web_files_keep_their_own_caching(api: Api, path: str) -> None:
    response = await api.client.get(path)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/openapi.json", "/asyncapi.json", "/docs", "/redoc", "/healthz"])
async def test_the_public_documents_outside_the_api_are_left_as_they_were(
    api: Api, path: str
) -> None:
    response = await api.client.get(path)

    assert response.status_code == 200
    assert "cache-control" not in response.headers
