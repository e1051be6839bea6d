"""Webhook subscriptions over REST, on SQLite and PostgreSQL: made, scoped, changed, rotated.

wanda is water's admin, raj roads'; ana is an operator of water, not an admin. Loopback is
allowed in these tests (``HOTLINE_WEBHOOK_ALLOW_NETWORKS``), as an administrator would
allow a network of its own; private addresses are not.
"""

from __future__ import annotations

import json
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from client.protocol.times import parse_time
from server.config import Settings
from server.secrets import SecretBox
from server.service import demo, webhooks
from server.store.db import Database
from server.store.models import ChannelRow, DeliveryRow, WebhookRow
from tests.integration.conftest import Api

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"
WEBHOOKS = f"{CHANNEL}/webhooks"
RECEIVER = "http://127.0.0.1:9/hotline"  # the discard port: the app's worker calls it in vain


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        secrets_key_file=tmp_path / "secrets.key",
        webhook_allow_networks=[ip_network("127.0.0.0/8"), ip_network("::1/128")],
    )


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem details of a refusal, checked to be one."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def subscribe(api: Api, operator: str = "wanda", **fields: Any) -> httpx.Response:
    return await api.post(operator, WEBHOOKS, {"url": RECEIVER, **fields})


async def patch(api: Api, operator: str, path: str, body: Any) -> httpx.Response:
    return await api.client.patch(path, headers=api.auth(operator), json=body)


async def delete(api: Api, operator: str, path: str) -> httpx.Response:
    return await api.client.delete(path, headers=api.auth(operator))


async def stored(db: Database) -> list[WebhookRow]:
    async with db.session() as session:
        return list((await session.scalars(select(WebhookRow))).all())


async def channel_targets(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        text = await session.scalar(
            select(ChannelRow.webhooks).where(ChannelRow.id == demo.CHANNEL)
        )
    assert text is not None
    found: list[dict[str, Any]] = json.loads(text)
    return found


async def test_an_admin_subscribes_and_sees_the_secret_once(api: Api, db: Database) -> None:
    made = await subscribe(api, types=["notice.sent", "notice.overdue", "notice.sent"])

    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_")
    assert created["url"] == RECEIVER
    assert created["types"] == ["notice.sent", "notice.overdue"]
    assert created["party"] == "water"
    assert created["enabled"] is True
    assert created["created_by"] == "wanda"
    shown = await api.get("wanda", f"{WEBHOOKS}/{created['id']}")
    listed = await api.get("wanda", WEBHOOKS)
    assert shown.status_code == listed.status_code == 200
    assert "secret" not in shown.json()
    assert [w["id"] for w in listed.json()] == [created["id"]]
    assert created["secret"] not in shown.text + listed.text
    assert await channel_targets(db) == [
        {"id": created["id"], "party": "water", "types": ["notice.sent", "notice.overdue"]}
    ]


async def test_the_secret_is_stored_sealed_never_in_clear(
    api: Api, db: Database, settings: Settings
) -> None:
    created = (await subscribe(api)).json()

    [row] = await stored(db)

    secret = created["secret"]
    assert secret not in row.secret
    assert secret.removeprefix("whsec_") not in row.secret
    box = SecretBox.load_or_create(settings.secrets_key_file)
    assert box.open(row.secret, bound_to=created["id"]) == secret


async def test_only_admins_manage_webhooks(api: Api) -> None:
    created = (await subscribe(api)).json()
    one = f"{WEBHOOKS}/{created['id']}"

    refusals = [
        await subscribe(api, "ana"),
        await api.get("ana", WEBHOOKS),
        await api.get("ana", one),
        await patch(api, "ana", one, {"enabled": False}),
        await delete(api, "ana", one),
        await api.post("ana", f"{one}/rotate", {}),
        await api.get("ana", f"{one}/deliveries"),
        await api.get("ana", f"{CHANNEL}/deliveries"),
    ]

    for refused in refusals:
        problem(refused, 403, "forbidden")


async def test_another_partys_webhook_is_not_found(api: Api) -> None:
    water = (await subscribe(api)).json()
    one = f"{WEBHOOKS}/{water['id']}"

    for refused in [
        await api.get("raj", one),
        await patch(api, "raj", one, {"enabled": False}),
        await delete(api, "raj", one),
        await api.post("raj", f"{one}/rotate", {}),
        await api.get("raj", f"{one}/deliveries"),
    ]:
        problem(refused, 404, "not-found")
    assert (await api.get("raj", WEBHOOKS)).json() == []
    assert (await api.get("wanda", one)).json()["enabled"] is True


async def test_a_channel_not_the_partys_is_not_found(api: Api) -> None:
    problem(await api.get("wanda", "/api/v1/channels/nowhere/webhooks"), 404, "not-found")
    made = await api.post("wanda", "/api/v1/channels/nowhere/webhooks", {"url": RECEIVER})
    problem(made, 404, "not-found")


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://10.1.2.3/hook", "private address"),
        ("http://169.254.169.254/latest/meta-data", "link-local address"),
        ("http://[::ffff:192.168.0.1]/", "stands for 192.168.0.1"),
        ("http://0.0.0.0:8000/", "unspecified address"),
        ("ftp://127.0.0.1/", "http:// or https://"),
        ("http://wanda:secret@127.0.0.1/", "user name or password"),
        ("http://does-not-exist.invalid/", "does not resolve"),
    ],
)
async def test_a_url_the_guard_refuses_is_a_clear_problem_and_nothing_is_stored(
    api: Api, db: Database, url: str, detail: str
) -> None:
    refused = problem(await subscribe(api, url=url), 422, "webhook-address-refused")

    assert detail in refused["detail"]
    assert refused["errors"] == [{"field": "url", "message": refused["detail"]}]
    assert await stored(db) == []
    assert await channel_targets(db) == []


async def test_an_unknown_event_type_is_refused(api: Api, db: Database) -> None:
    problem(await subscribe(api, types=["notice.sent", "notice.exploded"]), 422, "invalid-request")
    problem(await subscribe(api, colour="red"), 422, "invalid-request")

    assert await stored(db) == []


async def test_a_change_rewrites_the_channels_subscriptions_with_it(api: Api, db: Database) -> None:
    created = (await subscribe(api)).json()
    one = f"{WEBHOOKS}/{created['id']}"

    typed = await patch(api, "wanda", one, {"types": ["check.missed"]})
    off = await patch(api, "wanda", one, {"enabled": False})

    assert typed.json()["types"] == ["check.missed"]
    assert off.json()["enabled"] is False
    assert off.json()["disabled_reason"] == "disabled by wanda"
    assert await channel_targets(db) == []
    on = await patch(api, "wanda", one, {"enabled": True, "url": "http://localhost:9/x"})
    assert on.status_code == 200, on.text
    assert on.json()["url"] == "http://localhost:9/x"
    assert on.json()["disabled_reason"] is None
    assert await channel_targets(db) == [
        {"id": created["id"], "party": "water", "types": ["check.missed"]}
    ]


async def test_a_change_to_a_refused_url_changes_nothing(api: Api) -> None:
    created = (await subscribe(api)).json()
    one = f"{WEBHOOKS}/{created['id']}"

    problem(
        await patch(api, "wanda", one, {"url": "http://10.0.0.1/"}), 422, "webhook-address-refused"
    )

    assert (await api.get("wanda", one)).json()["url"] == RECEIVER


async def test_rotating_gives_a_new_secret_and_keeps_the_old_one_signing_a_while(
    api: Api, db: Database, settings: Settings
) -> None:
    created = (await subscribe(api)).json()
    one = f"{WEBHOOKS}/{created['id']}"

    rotated = await api.post("wanda", f"{one}/rotate", {"overlap_seconds": 3600})

    assert rotated.status_code == 200, rotated.text
    answer = rotated.json()
    assert answer["secret"].startswith("whsec_")
    assert answer["secret"] != created["secret"]
    until = parse_time(answer["previous_secret_until"])
    assert until - parse_time(created["created_at"]) >= timedelta(seconds=3600)
    assert (await api.get("wanda", one)).json()["previous_secret_until"] == answer[
        "previous_secret_until"
    ]
    [row] = await stored(db)
    box = SecretBox.load_or_create(settings.secrets_key_file)
    assert box.open(row.secret, bound_to=created["id"]) == answer["secret"]
    assert row.previous_secret is not None
    assert box.open(row.previous_secret, bound_to=created["id"]) == created["secret"]


async def test_rotating_without_overlap_stops_the_old_secret_at_once(
    api: Api, db: Database
) -> None:
    created = (await subscribe(api)).json()

    rotated = await api.post("wanda", f"{WEBHOOKS}/{created['id']}/rotate", {"overlap_seconds": 0})

    assert rotated.json()["previous_secret_until"] is None
    [row] = await stored(db)
    assert row.previous_secret is None
    problem(
        await api.post("wanda", f"{WEBHOOKS}/{created['id']}/rotate", {"overlap_seconds": -1}),
        422,
        "invalid-request",
    )


async def test_each_event_owes_the_subscription_a_delivery_in_its_log(api: Api) -> None:
    created = (await subscribe(api)).json()
    for _ in range(3):
        assert (await api.send("ana")).status_code == 201

    first = await api.get("wanda", f"{WEBHOOKS}/{created['id']}/deliveries", params={"limit": 2})
    page = first.json()
    rest = await api.get(
        "wanda",
        f"{WEBHOOKS}/{created['id']}/deliveries",
        params={"limit": 2, "before": page["next_before"]},
    )

    assert first.status_code == 200, first.text
    items = page["items"] + rest.json()["items"]
    assert [d["seq"] for d in items] == [3, 2, 1]
    assert rest.json()["next_before"] is None
    assert {d["target"] for d in items} == {created["id"]}
    assert {d["kind"] for d in items} == {"webhook"}
    assert {d["event_type"] for d in items} == {"notice.sent"}
    # The app's delivery worker may have tried them already (nothing listens there).
    assert {d["status"] for d in items} <= {"waiting", "failed"}
    party = (await api.get("wanda", f"{CHANNEL}/deliveries", params={"kind": "webhook"})).json()
    assert [d["id"] for d in party["items"]] == [d["id"] for d in items]
    mail = (await api.get("wanda", f"{CHANNEL}/deliveries", params={"kind": "mail"})).json()
    assert mail == {"items": [], "next_before": None}
    assert (await api.get("raj", f"{CHANNEL}/deliveries")).json()["items"] == []
    problem(
        await api.get("wanda", f"{CHANNEL}/deliveries", params={"before": "nonsense"}),
        422,
        "invalid",
    )


async def test_removing_a_webhook_gives_up_what_waits_for_it(api: Api, db: Database) -> None:
    created = (await subscribe(api)).json()
    assert (await api.send("ana")).status_code == 201

    removed = await delete(api, "wanda", f"{WEBHOOKS}/{created['id']}")

    assert removed.status_code == 204
    problem(await api.get("wanda", f"{WEBHOOKS}/{created['id']}"), 404, "not-found")
    [row] = await stored(db)  # kept for the deliveries that name it, without its secrets
    assert (row.enabled, row.disabled_reason, row.secret, row.previous_secret) == (
        False,
        "removed",
        "",
        None,
    )
    assert await channel_targets(db) == []
    async with db.session() as session:
        rows = (await session.scalars(select(DeliveryRow))).all()
        waiting = await session.scalar(
            select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "waiting")
        )
    assert [(r.status, r.last_error) for r in rows] == [("failed", "subscription removed")]
    assert waiting == 0
    assert (await api.send("ana")).status_code == 201  # no subscription: no delivery
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(DeliveryRow)) == 1
    scraped = (await api.get("wanda", "/metrics")).text
    [failed] = [
        float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        if line.startswith('hotline_deliveries_failed_total{kind="webhook"}')
    ]
    # The one given up by the removal (the app's worker may count one it tried meanwhile).
    assert failed >= 1


async def test_a_removed_webhook_is_gone_but_its_delivery_log_stays(api: Api) -> None:
    created = (await subscribe(api)).json()
    kept = (await subscribe(api)).json()
    assert (await api.send("ana")).status_code == 201
    one = f"{WEBHOOKS}/{created['id']}"
    before = (await api.get("wanda", f"{one}/deliveries")).json()["items"]

    assert (await delete(api, "wanda", one)).status_code == 204

    listed = (await api.get("wanda", WEBHOOKS)).json()
    assert [w["id"] for w in listed] == [kept["id"]]
    problem(await api.get("wanda", one), 404, "not-found")
    problem(await patch(api, "wanda", one, {"enabled": True}), 404, "not-found")
    problem(await api.post("wanda", f"{one}/rotate", {"overlap_seconds": 0}), 404, "not-found")
    problem(await delete(api, "wanda", one), 404, "not-found")
    # Its deliveries: by its id, and in the party's whole log of webhook calls.
    log = await api.get("wanda", f"{one}/deliveries")
    assert log.status_code == 200, log.text
    [delivery] = log.json()["items"]
    assert delivery["id"] == before[0]["id"]
    assert delivery["status"] == "failed"  # given up as it was removed, if not tried before
    party = await api.get("wanda", f"{CHANNEL}/deliveries", params={"kind": "webhook"})
    assert {d["target"] for d in party.json()["items"]} == {created["id"], kept["id"]}
    # Not the other party's business, removed or not.
    problem(await api.get("raj", f"{one}/deliveries"), 404, "not-found")
    assert (await api.get("raj", f"{CHANNEL}/deliveries")).json()["items"] == []


async def test_a_removed_webhook_does_not_count_towards_the_partys_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "MAX_WEBHOOKS", 1)
    first = (await subscribe(api)).json()
    problem(await subscribe(api), 422, "invalid")

    assert (await delete(api, "wanda", f"{WEBHOOKS}/{first['id']}")).status_code == 204

    assert (await subscribe(api)).status_code == 201
