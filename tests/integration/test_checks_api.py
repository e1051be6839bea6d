"""Liveness checks over REST and the socket: listed, answered once by the party asked, counted.

Each test runs on SQLite and on PostgreSQL, on a hand-moved clock (``clocked.py``). The two
admins agree at :data:`START` to hourly checks answered within five minutes; each test
fires the first round itself, an hour later, which asks each party one check.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from client.protocol.times import format_time
from server.config import Settings
from server.domain.model import Policy
from server.domain.policy import policy_wire
from server.service import demo
from server.store.db import Database
from tests.integration.clocked import OTHERS, START, Line, clocked

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"
EVERY = timedelta(hours=1)
WITHIN = timedelta(minutes=5)
HOURLY = {
    **policy_wire(Policy()),
    "escalate_to": {"roads": ["dev"]},
    "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
}


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    async with clocked(db, settings) as line:
        proposal = {"id": str(uuid.uuid4()), "policy": HOURLY}
        proposed = await line.api.post("wanda", f"{CHANNEL}/policy/proposals", proposal)
        assert proposed.status_code == 201, proposed.text
        accepted = await line.api.post("raj", f"{CHANNEL}/policy/proposals/{proposal['id']}/accept")
        assert accepted.status_code == 200, accepted.text
        yield line


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem details of a refusal, checked to be one."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def ask(line: Line, round_: int = 1) -> dict[str, str]:
    """Fire round ``round_`` of checks; returns each party's check id."""
    fired = await line.fire_at(START + round_ * EVERY)
    asked = {
        e["data"]["party"]: e["data"]["check"] for e in fired if e["type"] == "check.requested"
    }
    assert set(asked) == {"water", "roads"}, fired
    return asked


async def answer(
    line: Line, operator: str, check: str, channel: str = demo.CHANNEL
) -> httpx.Response:
    return await line.api.post(operator, f"/api/v1/channels/{channel}/checks/{check}/answer")


# -- answering ---------------------------------------------------------------------------------


async def test_any_operator_of_the_party_asked_answers_its_check(line: Line) -> None:
    asked = await ask(line)
    line.advance(timedelta(seconds=2, milliseconds=500))

    response = await answer(line, "carla", asked["roads"])

    assert response.status_code == 200, response.text
    due = START + EVERY
    assert response.json() == {
        "id": asked["roads"],
        "channel": demo.CHANNEL,
        "party": "roads",
        "seq": response.json()["seq"],
        "due_at": format_time(due),
        "requested_at": format_time(due),
        "answer_by": format_time(due + WITHIN),
        "answered_at": format_time(due + timedelta(seconds=2.5)),
        "answered_by": "carla",
        "missed_at": None,
        "status": "answered",
        "answered_in_ms": 2500,
    }
    log = await line.api.log()
    assert log[response.json()["seq"] - 1]["type"] == "check.requested"
    assert (log[-1]["type"], log[-1]["actor"], log[-1]["data"]) == (
        "check.answered",
        {"party": "roads", "operator": "carla"},
        {
            "check": asked["roads"],
            "party": "roads",
            "requested_at": format_time(due),
            "answered_in_ms": 2500,
        },
    )


async def test_an_admin_answers_for_its_party_too(line: Line) -> None:
    asked = await ask(line)

    response = await answer(line, "wanda", asked["water"])

    assert response.status_code == 200, response.text
    assert response.json()["answered_by"] == "wanda"


async def test_a_second_answer_changes_nothing_and_logs_nothing(line: Line) -> None:
    asked = await ask(line)
    first = await answer(line, "carla", asked["roads"])
    before = await line.api.log()
    line.advance(timedelta(seconds=1))

    second = await answer(line, "dev", asked["roads"])

    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert await line.api.log() == before


async def test_the_other_party_may_not_answer_a_check(line: Line) -> None:
    asked = await ask(line)

    problem(await answer(line, "ana", asked["roads"]), 403, "forbidden")

    assert (await line.api.log())[-1]["type"] == "check.requested"


async def test_an_answer_after_the_window_is_refused_as_check_closed(line: Line) -> None:
    asked = await ask(line)
    answer_by = START + EVERY + WITHIN
    line.clock.set(answer_by + timedelta(milliseconds=1))

    before_it_is_logged = await answer(line, "carla", asked["roads"])
    missed = await line.fire_at(answer_by)
    after_it_is_logged = await answer(line, "dev", asked["roads"])

    problem(before_it_is_logged, 409, "check-closed")
    problem(after_it_is_logged, 409, "check-closed")
    assert sorted((e["type"], e["data"]["party"]) for e in missed) == [
        ("check.missed", "roads"),
        ("check.missed", "water"),
    ]


async def test_an_answer_at_the_last_moment_counts(line: Line) -> None:
    asked = await ask(line)
    line.clock.set(START + EVERY + WITHIN)

    response = await answer(line, "carla", asked["roads"])

    assert response.status_code == 200, response.text
    assert response.json()["answered_in_ms"] == 300_000


async def test_an_unknown_check_is_not_found(line: Line) -> None:
    problem(await answer(line, "carla", str(uuid.uuid4())), 404, "not-found")


async def test_a_check_of_a_channel_of_other_parties_is_not_found(line: Line) -> None:
    asked = await ask(line)

    problem(await answer(line, "carla", asked["roads"], OTHERS), 404, "not-found")
    problem(await answer(line, "carla", asked["roads"], "no-such-channel"), 404, "not-found")
    for path in ("checks", "availability"):
        response = await line.api.get("carla", f"/api/v1/channels/{OTHERS}/{path}")
        problem(response, 404, "not-found")


async def test_checks_calls_need_a_token(line: Line) -> None:
    for response in (
        await line.api.client.get(f"{CHANNEL}/checks"),
        await line.api.client.post(f"{CHANNEL}/checks/{uuid.uuid4()}/answer"),
        await line.api.client.get(f"{CHANNEL}/availability"),
    ):
        problem(response, 401, "unauthenticated")


# -- listing ---------------------------------------------------------------------------------


async def test_checks_are_listed_newest_first_a_page_at_a_time(line: Line) -> None:
    first = await ask(line, 1)
    await answer(line, "carla", first["roads"])
    second = await ask(line, 2)

    everything = await line.api.get("ana", f"{CHANNEL}/checks")
    roads = await line.api.get("ana", f"{CHANNEL}/checks", params={"party": "roads"})
    one = await line.api.get("ana", f"{CHANNEL}/checks", params={"party": "roads", "limit": 1})
    rest = await line.api.get(
        "ana",
        f"{CHANNEL}/checks",
        params={"party": "roads", "limit": 1, "cursor": one.json()["next_cursor"]},
    )

    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert {c["id"] for c in items} == {*first.values(), *second.values()}
    assert [c["due_at"] for c in items] == sorted((c["due_at"] for c in items), reverse=True)
    assert everything.json()["next_cursor"] is None
    assert [c["id"] for c in roads.json()["items"]] == [second["roads"], first["roads"]]
    assert [c["status"] for c in roads.json()["items"]] == ["pending", "answered"]
    assert [c["id"] for c in one.json()["items"]] == [second["roads"]]
    assert [c["id"] for c in rest.json()["items"]] == [first["roads"]]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"party": "Not An Id"},
        {"cursor": "not-one-of-ours"},
        {"cursor": ""},
    ],
)
async def test_a_malformed_listing_is_refused(line: Line, params: dict[str, Any]) -> None:
    response = await line.api.get("ana", f"{CHANNEL}/checks", params=params)

    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"invalid-request", "invalid"}


# -- availability ----------------------------------------------------------------------------


async def test_availability_counts_each_partys_answers_misses_and_median(line: Line) -> None:
    rounds = [await ask(line, 1)]
    line.advance(timedelta(seconds=2))
    await answer(line, "carla", rounds[0]["roads"])  # roads in 2 s; water misses
    await line.fire_at(START + EVERY + WITHIN)
    rounds.append(await ask(line, 2))
    line.advance(timedelta(seconds=1))
    await answer(line, "ben", rounds[1]["water"])  # water in 1 s
    line.advance(timedelta(seconds=3))
    await answer(line, "dev", rounds[1]["roads"])  # roads in 4 s
    rounds.append(await ask(line, 3))  # both pending

    response = await line.api.get(
        "carla",
        f"{CHANNEL}/availability",
        params={"since": format_time(START), "until": format_time(START + 4 * EVERY)},
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["since"], report["until"]) == (
        format_time(START),
        format_time(START + 4 * EVERY),
    )
    assert sorted(report["parties"], key=lambda p: p["party"]) == [
        {
            "party": "roads",
            "requested": 3,
            "answered": 2,
            "missed": 0,
            "pending": 1,
            "median_answer_ms": 3000,
        },
        {
            "party": "water",
            "requested": 3,
            "answered": 1,
            "missed": 1,
            "pending": 1,
            "median_answer_ms": 1000,
        },
    ]


async def test_availability_counts_only_checks_requested_in_the_range(line: Line) -> None:
    await ask(line, 1)
    await ask(line, 2)
    since, until = START + 2 * EVERY, START + 3 * EVERY

    response = await line.api.get(
        "ana",
        f"{CHANNEL}/availability",
        params={"since": format_time(since), "until": format_time(until)},
    )

    assert response.status_code == 200, response.text
    assert {p["party"]: p["requested"] for p in response.json()["parties"]} == {
        "water": 1,
        "roads": 1,
    }


async def test_availability_covers_the_last_week_unless_told(line: Line) -> None:
    await ask(line, 1)
    now = line.clock.now()

    response = await line.api.get("ana", f"{CHANNEL}/availability")

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["since"], report["until"]) == (
        format_time(now - timedelta(days=7)),
        format_time(now),
    )


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-11-22T00:00:00Z", "until": "2026-11-21T00:00:00Z"},
        {"since": "2026-11-21T00:00:00Z", "until": "2026-11-21T00:00:00Z"},
        {"since": "2026-11-21T00:00:00"},
        {"until": "yesterday"},
        {"since": "2026-12-01T00:00:00Z"},
        {"until": "0001-01-01T00:00:00Z"},
        {"until": "0.5"},
        {"since": "2026-11-21 09:00:00Z"},
    ],
    ids=[
        "ends before it starts",
        "empty",
        "no time zone",
        "not a time",
        "starts after now",
        "ends at the dawn of time",
        "seconds since 1970",
        "a space for a T",
    ],
)
async def test_a_malformed_range_is_refused(line: Line, params: dict[str, str]) -> None:
    response = await line.api.get("ana", f"{CHANNEL}/availability", params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


# -- over the socket -------------------------------------------------------------------------


async def test_a_check_is_answered_over_the_socket_as_over_rest(line: Line) -> None:
    asked = await ask(line)
    async with line.socket("dev") as socket:
        await socket.subscribe()
        line.advance(timedelta(seconds=1))
        result = await socket.command(
            {"type": "answer_check", "ref": "a1", "channel": demo.CHANNEL, "check": asked["roads"]}
        )
        again = await socket.command(
            {"type": "answer_check", "ref": "a2", "channel": demo.CHANNEL, "check": asked["roads"]}
        )

    assert result["type"] == "result", result
    assert result["ref"] == "a1"
    assert result["created"] is True
    assert result["notice"] is None
    assert result["check"]["answered_by"] == "dev"
    assert result["check"]["answered_in_ms"] == 1000
    assert socket.events[-1]["type"] == "check.answered", "the event comes before the result"
    assert (again["type"], again["created"], again["check"]) == ("result", False, result["check"])
    rest = await line.api.get("ana", f"{CHANNEL}/checks", params={"party": "roads"})
    assert rest.json()["items"][0] == result["check"]


@pytest.mark.parametrize(
    ("operator", "check", "status", "code"),
    [
        ("ana", "roads", 403, "forbidden"),
        ("carla", "unknown", 404, "not-found"),
        ("carla", "closed", 409, "check-closed"),
    ],
)
async def test_a_refused_answer_over_the_socket_is_an_error_with_its_ref(
    line: Line, operator: str, check: str, status: int, code: str
) -> None:
    asked = await ask(line)
    check_id = {"roads": asked["roads"], "unknown": str(uuid.uuid4())}.get(check, asked["roads"])
    if check == "closed":
        await line.fire_at(START + EVERY + WITHIN)
    async with line.socket(operator) as socket:
        error = await socket.command(
            {"type": "answer_check", "ref": "x", "channel": demo.CHANNEL, "check": check_id}
        )
        await socket.subscribe()  # the socket stays open

    assert {k: error[k] for k in ("type", "ref", "status", "code")} == {
        "type": "error",
        "ref": "x",
        "status": status,
        "code": code,
    }


async def test_an_answer_check_message_without_a_check_is_invalid(line: Line) -> None:
    async with line.socket("carla") as socket:
        error = await socket.command({"type": "answer_check", "ref": "x", "channel": demo.CHANNEL})

    assert (error["type"], error["ref"], error["status"], error["code"]) == (
        "error",
        "x",
        422,
        "invalid-message",
    )
    assert [e["field"] for e in error["errors"]] == ["answer_check.check"]
