"""Conflicting plans over REST and the socket, and a notice's bounding box on the wire.

Each test runs on SQLite and on PostgreSQL, on a hand-moved clock (``clocked.py``). Water
(ana) plans works in Mill Lane; roads (carla) plans works of its own there, or elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from client.protocol.times import format_time
from server.config import Settings
from server.service import demo
from server.store.db import Database
from tests.integration.clocked import OTHERS, START, Line, clocked

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"
CONFLICTS = f"{CHANNEL}/conflicts"
DAY = timedelta(days=1)
MILL_LANE = [-1.2605, 51.7519, -1.2571, 51.7534]
"""A box around Mill Lane: [west, south, east, north]."""
HIGH_STREET = [-1.2550, 51.7500, -1.2500, 51.7510]
"""A box around the High Street, apart from Mill Lane's."""


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    async with clocked(db, settings) as line:
        yield line


def window(start_day: int, end_day: int) -> dict[str, str]:
    """An activity window from ``start_day`` to ``end_day`` days after :data:`START`."""
    return {
        "starts_at": format_time(START + start_day * DAY),
        "ends_at": format_time(START + end_day * DAY),
    }


async def plan(
    line: Line, operator: str, area: str, days: tuple[int, int], **fields: Any
) -> dict[str, Any]:
    """Send a notice planning works in ``area`` over ``days``; returns it as answered."""
    response = await line.api.send(operator, area=area, activity=window(*days), **fields)
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def conflicts(line: Line, operator: str = "ana", **params: Any) -> list[dict[str, Any]]:
    response = await line.api.get(operator, CONFLICTS, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


# -- detected, listed, resolved --------------------------------------------------------------


async def test_two_plans_in_one_area_at_once_are_a_conflict_both_parties_see(line: Line) -> None:
    water = await plan(line, "ana", "Mill Lane, numbers 2-40", (3, 6))
    roads = await plan(line, "carla", "  mill lane,   NUMBERS 2-40 ", (5, 8))

    seen = {operator: await conflicts(line, operator) for operator in ("ana", "carla")}

    log = await line.api.log()
    detected = log[-1]
    assert log[-2]["type"] == "notice.sent", "detected right after the send that revealed it"
    assert (detected["type"], detected["actor"]) == ("conflict.detected", None)
    overlap = window(5, 6)
    assert (
        seen["ana"]
        == seen["carla"]
        == [
            {
                "id": detected["data"]["conflict"],
                "channel": demo.CHANNEL,
                "notices": [water["id"], roads["id"]],
                "area": "mill lane, numbers 2-40",
                "overlap": overlap,
                "detected_seq": detected["seq"],
                "detected_at": format_time(START),
                "resolved_seq": None,
                "resolved_at": None,
            }
        ]
    )
    assert detected["data"] == {
        "conflict": seen["ana"][0]["id"],
        "notices": [water["id"], roads["id"]],
        "area": "mill lane, numbers 2-40",
        "overlap": overlap,
    }
    assert await conflicts(line, open="true") == seen["ana"]
    assert await conflicts(line, open="false") == []


async def test_cancelling_one_of_two_plans_resolves_their_conflict(line: Line) -> None:
    water = await plan(line, "ana", "Mill Lane", (3, 6))
    await plan(line, "carla", "Mill Lane", (4, 5))
    line.advance(timedelta(minutes=30))

    cancelled = await line.api.act("ana", water["id"], "cancellation", {"reason": "Postponed"})

    assert cancelled.status_code == 200, cancelled.text
    log = await line.api.log()
    resolved = log[-1]
    assert log[-2]["type"] == "notice.cancelled"
    assert resolved["type"] == "conflict.resolved"
    assert resolved["data"]["by"] == water["id"]
    assert resolved["data"]["reason"] == "cancelled"
    [conflict] = await conflicts(line, "carla")
    assert (conflict["resolved_seq"], conflict["resolved_at"]) == (
        resolved["seq"],
        format_time(START + timedelta(minutes=30)),
    )
    assert await conflicts(line, open="true") == []
    assert await conflicts(line, open="false") == [conflict]


async def test_plans_at_other_times_or_in_other_areas_do_not_conflict(line: Line) -> None:
    await plan(line, "ana", "Mill Lane", (3, 5))
    await plan(line, "carla", "Mill Lane", (5, 7))  # starts as the other ends: they touch
    await plan(line, "carla", "High Street", (3, 5))

    assert await conflicts(line) == []
    assert "conflict.detected" not in [e["type"] for e in await line.api.log()]


async def test_conflicts_are_listed_newest_first(line: Line) -> None:
    await plan(line, "ana", "Mill Lane", (3, 6))
    await plan(line, "carla", "Mill Lane", (4, 5))
    await plan(line, "ana", "High Street", (3, 6))
    await plan(line, "carla", "High Street", (4, 5))

    found = await conflicts(line)
    one = await conflicts(line, limit=1)

    assert [c["area"] for c in found] == ["high street", "mill lane"]
    assert one == found[:1]


async def test_a_conflict_is_pushed_to_both_parties_sockets(line: Line) -> None:
    water = await plan(line, "ana", "Mill Lane", (3, 6))
    async with line.socket("ben") as ben, line.socket("dev") as dev:
        await ben.subscribe()
        await dev.subscribe()
        roads = await plan(line, "carla", "Mill Lane", (4, 5))
        for socket in (ben, dev):
            await socket.receive_until(
                lambda m: m["type"] == "event" and m["event"]["type"] == "conflict.detected"
            )

    for socket in (ben, dev):
        assert socket.events[-1]["data"]["notices"] == [water["id"], roads["id"]]


async def test_conflicts_of_a_channel_of_other_parties_are_not_found(line: Line) -> None:
    for channel in (OTHERS, "no-such-channel"):
        response = await line.api.get("ana", f"/api/v1/channels/{channel}/conflicts")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not-found"
    response = await line.api.client.get(CONFLICTS)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("params", [{"open": "perhaps"}, {"limit": 0}, {"limit": 1001}])
async def test_a_malformed_conflict_listing_is_refused(line: Line, params: dict[str, str]) -> None:
    response = await line.api.get("ana", CONFLICTS, params=params)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid-request"


# -- the bounding box ------------------------------------------------------------------------


async def test_a_bbox_goes_round_the_api_and_into_the_log(line: Line) -> None:
    sent = await plan(line, "ana", "Mill Lane", (3, 6), bbox=MILL_LANE)

    read = await line.api.get("carla", f"{CHANNEL}/notices/{sent['id']}")
    listed = await line.api.get("carla", f"{CHANNEL}/notices")

    assert sent["bbox"] == MILL_LANE
    assert read.json()["bbox"] == MILL_LANE
    assert listed.json()["items"][0]["bbox"] == MILL_LANE
    [event] = await line.api.log()
    assert event["data"]["bbox"] == MILL_LANE


async def test_a_notice_without_a_bbox_logs_none(line: Line) -> None:
    sent = await plan(line, "ana", "Mill Lane", (3, 6))

    [event] = await line.api.log()

    assert sent["bbox"] is None
    assert "bbox" not in event["data"], "only a notice with a box carries the member"


async def test_a_bbox_may_cross_the_antimeridian(line: Line) -> None:
    across = [179.5, -17.0, -179.5, -16.5]  # west greater than east

    sent = await plan(line, "ana", "Taveuni", (3, 6), bbox=across)

    assert sent["bbox"] == across


async def test_plans_whose_boxes_do_not_intersect_do_not_conflict(line: Line) -> None:
    await plan(line, "ana", "Mill Lane", (3, 6), bbox=MILL_LANE)
    await plan(line, "carla", "Mill Lane", (4, 5), bbox=HIGH_STREET)
    await plan(line, "carla", "Mill Lane", (4, 5), bbox=MILL_LANE)

    found = await conflicts(line)

    assert len(found) == 1, "only the second roads plan, in the same box"


@pytest.mark.parametrize(
    "bbox",
    [
        [-1.26, 51.75, -1.25],
        [-1.26, 51.75, -1.25, 51.76, 0.0],
        [-181.0, 51.75, -1.25, 51.76],
        [-1.26, 51.75, 180.5, 51.76],
        [-1.26, -90.5, -1.25, 51.76],
        [-1.26, 51.75, -1.25, 91.0],
        [-1.26, 51.76, -1.25, 51.75],
        ["west", 51.75, -1.25, 51.76],
        {"west": -1.26, "south": 51.75, "east": -1.25, "north": 51.76},
    ],
    ids=[
        "three numbers",
        "five numbers",
        "west beyond -180",
        "east beyond 180",
        "south beyond -90",
        "north beyond 90",
        "south of north",
        "a word",
        "an object",
    ],
)
async def test_a_malformed_bbox_is_refused(line: Line, bbox: Any) -> None:
    response = await line.api.send("ana", area="Mill Lane", activity=window(3, 6), bbox=bbox)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid-request"
    assert all(e["field"].startswith("body.bbox") for e in body["errors"]), body["errors"]
    assert await line.api.log() == []


@pytest.mark.parametrize(
    "starts_at", [1796374800, "1796374800", "2026-12-01 09:00:00Z", "2026-12-01T09:00Z"]
)
async def test_an_activity_time_that_is_not_rfc_3339_is_refused(line: Line, starts_at: Any) -> None:
    activity = {"starts_at": starts_at, "ends_at": window(3, 6)["ends_at"]}

    response = await line.api.send("ana", area="Mill Lane", activity=activity)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.activity.starts_at"


async def test_a_bbox_without_an_area_is_invalid(line: Line) -> None:
    response = await line.api.send("ana", activity=window(3, 6), bbox=MILL_LANE)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"][0]["field"] == "bbox"


async def test_a_bbox_is_sent_over_the_socket_as_over_rest(line: Line) -> None:
    notice_id = str(uuid.uuid4())
    draft = {"id": notice_id, "subject": "Valve", "area": "Mill Lane", "bbox": MILL_LANE}
    async with line.socket("ana") as socket:
        result = await socket.command(
            {"type": "send", "ref": "s1", "channel": demo.CHANNEL, "notice": draft}
        )

    assert result["type"] == "result", result
    assert result["notice"]["bbox"] == MILL_LANE
    assert result["check"] is None
