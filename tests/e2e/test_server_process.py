"""The real server process over real HTTP: a notice's life, restarts, kills, logs and signals."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Demo, Launcher

TIMEOUT = 10.0
"""Seconds any one HTTP request may take."""


def send(client: httpx.Client, server: Demo, operator: str, subject: str) -> httpx.Response:
    """Send a notice with a fresh id on the demo channel."""
    body = {"id": str(uuid.uuid4()), "subject": subject}
    return client.post(server.notices, headers=server.auth(operator), json=body)


def read_log(client: httpx.Client, server: Demo, operator: str = "ana") -> list[dict[str, Any]]:
    """The demo channel's whole log, a page at a time."""
    events: list[dict[str, Any]] = []
    while True:
        response = client.get(
            server.events,
            headers=server.auth(operator),
            params={"after": events[-1]["seq"] if events else 0, "limit": 1000},
        )
        assert response.status_code == 200, response.text
        page = response.json()["events"]
        if not page:
            return events
        events.extend(page)


def test_a_notice_is_sent_received_and_acknowledged_over_http(server: Demo) -> None:
    notice_id = str(uuid.uuid4())
    notice = f"{server.notices}/{notice_id}"
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        sent = client.post(
            server.notices,
            headers=server.auth("ana"),
            json={"id": notice_id, "subject": "Water main renewal, Mill Lane"},
        )
        received = client.post(f"{notice}/receipt", headers=server.auth("carla"))
        decided = client.post(
            f"{notice}/decision", headers=server.auth("dev"), json={"decision": "acknowledged"}
        )
        seen = client.get(notice, headers=server.auth("ana"))
        log = read_log(client, server, "ana")

    assert (sent.status_code, received.status_code, decided.status_code) == (201, 200, 200)
    assert seen.status_code == 200
    assert seen.json()["status"] == "acknowledged"
    assert seen.json()["receipt"]["operator"] == "carla"
    assert seen.json()["decision"]["operator"] == "dev"
    assert [(e["seq"], e["type"], e["data"]["notice"]) for e in log] == [
        (1, "notice.sent", notice_id),
        (2, "notice.received", notice_id),
        (3, "notice.acknowledged", notice_id),
    ]
    assert [e["actor"]["operator"] for e in log] == ["ana", "carla", "dev"]


def test_every_answered_notice_survives_a_restart_and_old_tokens_are_refused(
    launch: Launcher,
) -> None:
    first = launch.demo()
    with httpx.Client(base_url=first.url, timeout=TIMEOUT) as client:
        responses = [send(client, first, "ana", f"Notice {n}") for n in range(20)]
    stopped = first.process.stop(signal.SIGTERM)

    second = launch.demo(first.database_url)
    with httpx.Client(base_url=second.url, timeout=TIMEOUT) as client:
        log = read_log(client, second, "carla")
        old = client.get("/api/v1/me", headers=first.auth("ana"))
        new = client.get("/api/v1/me", headers=second.auth("ana"))

    assert [r.status_code for r in responses] == [201] * 20
    assert [e["seq"] for e in log] == list(range(1, 21))
    assert [e["data"]["notice"] for e in log] == [r.json()["id"] for r in responses]
    assert second.tokens["ana"] != first.tokens["ana"], "the demo issues fresh tokens"
    assert old.status_code == 401
    assert old.headers["content-type"] == "application/problem+json"
    assert new.status_code == 200
    assert stopped == 0, "SIGTERM should end the server with status 0"


async def test_every_notice_answered_before_a_sigkill_is_there_after_restart(
    launch: Launcher,
) -> None:
    """Guarantee 1: 100 sends in flight, SIGKILL after the tenth answer, restart, check."""
    first = launch.demo()
    answered: list[str] = []
    ten_answered = asyncio.Event()

    async def send_one(client: httpx.AsyncClient, n: int) -> None:
        body = {"id": str(uuid.uuid4()), "subject": f"Notice {n}"}
        response = await client.post(first.notices, headers=first.auth("ana"), json=body)
        assert response.status_code == 201, response.text
        answered.append(body["id"])
        if len(answered) >= 10:
            ten_answered.set()

    async with httpx.AsyncClient(base_url=first.url, timeout=TIMEOUT) as client:
        sends = [asyncio.create_task(send_one(client, n)) for n in range(100)]
        try:
            await asyncio.wait_for(ten_answered.wait(), TIMEOUT)
        finally:
            first.process.kill()  # with no warning: nothing gets to finish or flush
            outcomes = await asyncio.gather(*sends, return_exceptions=True)

    second = launch.demo(first.database_url)
    with httpx.Client(base_url=second.url, timeout=TIMEOUT) as reader:
        log = read_log(reader, second)

    failures = [o for o in outcomes if o is not None]
    assert all(isinstance(f, httpx.TransportError) for f in failures), failures
    assert failures, "the kill should have cut some sends off"
    logged = [e["data"]["notice"] for e in log]
    assert set(answered) <= set(logged), "a notice answered 201 was lost"
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert all(e["type"] == "notice.sent" for e in log)


def test_the_log_is_json_lines_with_request_ids_and_never_a_token(server: Demo) -> None:
    bogus = "hl_" + "B0gusT0ken" * 4
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {bogus}"})
        me = client.get("/api/v1/me", headers=server.auth("ana"))
        sent = send(client, server, "carla", "Resurfacing, Station Road")
        traced = client.get("/healthz", headers={"x-request-id": "e2e-trace-42"})
    stopped = server.process.stop()  # the log is whole once the process has gone
    lines = server.process.log_lines()

    entries = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) for entry in entries)
    access = [e for e in entries if e["logger"] == "hotline.access"]
    assert all(e["request_id"] and isinstance(e["status"], int) for e in access), access
    logged_status = {e["request_id"]: e["status"] for e in access}
    assert refused.status_code == 401
    for response in (refused, me, sent, traced):
        assert logged_status[response.headers["x-request-id"]] == response.status_code
    assert traced.headers["x-request-id"] == "e2e-trace-42"
    text = "\n".join(lines)
    for token in [*server.tokens.values(), bogus]:
        assert token not in text, "a token was written to the log"
    assert stopped == 0


def test_health_and_readiness_answer_200(server: Demo) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "database": "reachable"})


def test_the_openapi_document_gives_every_operation_a_summary(server: Demo) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        response = client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    ]
    assert ("post", "/api/v1/channels/{channel_id}/notices") in {(m, p) for m, p, _ in operations}
    assert [f"{m.upper()} {p}" for m, p, op in operations if not op.get("summary")] == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_shuts_the_server_down_gracefully_with_status_0(
    server: Demo, sig: signal.Signals
) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        assert client.get("/healthz").status_code == 200  # serving, signal handlers in place

    status = server.process.stop(sig)

    messages = [json.loads(line)["message"] for line in server.process.log_lines()]
    assert "Application shutdown complete." in messages
    errors = [line for line in server.process.log_lines() if json.loads(line)["level"] == "error"]
    assert errors == []
    assert status == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_as_soon_as_the_url_is_announced_still_exits_with_status_0(
    launch: Launcher, sig: signal.Signals
) -> None:
    """A supervisor may stop the server the moment it is told the URL, before any request."""
    server = launch.start("demo", "--json", "--port", "0", "--database-url", launch.database_url)
    server.read_first_line()
    status = server.stop(sig)

    errors = [line for line in server.log_lines() if json.loads(line)["level"] == "error"]
    assert errors == []
    assert status == 0
