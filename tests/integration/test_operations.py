"""The operational endpoints: metrics for Prometheus and the AsyncAPI document."""

from __future__ import annotations

from client.protocol.vocabulary import Role
from server.service import access, admin
from server.store.db import Database
from tests.integration.conftest import Api


async def _admin_token(db: Database) -> str:
    await admin.create_operator(db, "ops", party="water", name="Ops desk", role=Role.ADMIN)
    _, token = await access.issue_token(db, "ops")
    return token


async def test_metrics_are_served_in_the_prometheus_format_to_an_admin(
    api: Api, db: Database
) -> None:
    token = await _admin_token(db)

    response = await api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "hotline_websocket_connections",
        "hotline_events_pushed_total",
        "hotline_delivery_seconds_bucket",
        "hotline_websocket_too_slow_closes_total",
    ):
        assert name in response.text


async def test_metrics_are_refused_to_operators_and_to_strangers(api: Api) -> None:
    as_operator = await api.get("ana", "/metrics")
    anonymous = await api.client.get("/metrics")

    assert as_operator.status_code == 403
    assert anonymous.status_code == 401


async def test_the_asyncapi_document_describes_every_message_of_the_socket(api: Api) -> None:
    document = (await api.client.get("/asyncapi.json")).json()

    assert document["asyncapi"].startswith("3.")
    assert document["channels"]["live"]["address"] == "/api/v1/ws"
    names = set(document["components"]["messages"])
    assert names == {
        "hello", "subscribe", "send", "receipt", "decide", "cancel", "answer_check",
        "welcome", "subscribed", "event", "result", "error", "presence",
    }  # fmt: skip
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert ref in document["components"]["schemas"]
    assert "4429" in document["info"]["description"]
