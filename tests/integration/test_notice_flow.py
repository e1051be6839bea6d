"""A notice's life over the REST API, end to end through the app and a real database."""

from __future__ import annotations

import asyncio
import uuid

from tests.integration.conftest import Api

CHANNEL = "/api/v1/channels/water-roads"


async def test_a_sent_notice_is_answered_only_once_its_event_is_in_the_log(api: Api) -> None:
    response = await api.send("ana", subject="Water main renewal, Mill Lane", priority="urgent")

    assert response.status_code == 201
    notice = response.json()
    assert notice["status"] == "sent"
    assert notice["sender"] == {"party": "water", "operator": "ana"}
    log = await api.log("carla")
    assert [(e["seq"], e["type"], e["data"]["notice"]) for e in log] == [
        (1, "notice.sent", notice["id"])
    ]
    assert log[0]["actor"] == {"party": "water", "operator": "ana"}
    assert log[0]["at"] == notice["sent_at"]


async def test_receipt_then_acknowledgement_moves_the_notice_along(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]

    received = await api.act("carla", notice_id, "receipt")
    decided = await api.act("dev", notice_id, "decision", {"decision": "acknowledged"})

    assert received.json()["status"] == "delivered"
    assert received.json()["receipt"]["operator"] == "carla"
    assert decided.status_code == 200
    assert decided.json()["status"] == "acknowledged"
    assert decided.json()["decision"]["operator"] == "dev"
    assert [e["type"] for e in await api.log()] == [
        "notice.sent",
        "notice.received",
        "notice.acknowledged",
    ]


async def test_a_second_receipt_changes_nothing_and_logs_nothing(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]

    first = await api.act("carla", notice_id, "receipt")
    second = await api.act("dev", notice_id, "receipt")

    assert second.status_code == 200
    assert second.json()["receipt"] == first.json()["receipt"]
    assert len(await api.log()) == 2


async def test_acknowledging_from_the_inbox_records_the_receipt_too(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]

    decided = await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    assert decided.json()["receipt"]["operator"] == "carla"
    assert [e["type"] for e in await api.log()] == [
        "notice.sent",
        "notice.received",
        "notice.acknowledged",
    ]


async def test_an_objection_keeps_its_reason(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]

    response = await api.act(
        "carla", notice_id, "decision", {"decision": "objected", "reason": "Resurfacing ends 9 Dec"}
    )

    assert response.json()["status"] == "objected"
    assert response.json()["decision"]["reason"] == "Resurfacing ends 9 Dec"
    assert (await api.log())[-1]["data"]["reason"] == "Resurfacing ends 9 Dec"


async def test_second_acknowledgement_is_refused_with_the_first(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    second = await api.act("dev", notice_id, "decision", {"decision": "objected", "reason": "no"})

    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    problem = second.json()
    assert problem["code"] == "already-decided"
    assert problem["decision"]["decision"] == "acknowledged"
    assert problem["decision"]["operator"] == "carla"
    assert len(await api.log()) == 3


async def test_sending_the_same_notice_again_returns_the_original(api: Api) -> None:
    notice_id = str(uuid.uuid4())
    first = await api.send("ana", id=notice_id, subject="Hydrant test", body="Low pressure 9-11")

    again = await api.send("ben", id=notice_id, subject="Hydrant test", body="Low pressure 9-11")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(await api.log()) == 1


async def test_the_same_id_with_other_content_is_a_conflict(api: Api) -> None:
    notice_id = str(uuid.uuid4())
    await api.send("ana", id=notice_id, subject="Hydrant test")

    clash = await api.send("ana", id=notice_id, subject="Hydrant test, revised")

    assert clash.status_code == 409
    assert clash.json()["code"] == "notice-id-conflict"
    assert len(await api.log()) == 1


async def test_cancelling_withdraws_a_notice_awaiting_its_answer(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]

    cancelled = await api.act("ben", notice_id, "cancellation", {"reason": "Postponed"})
    late = await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellation"] == {
        "at": cancelled.json()["cancellation"]["at"],
        "operator": "ben",
        "reason": "Postponed",
    }
    assert late.status_code == 409
    assert late.json()["code"] == "notice-closed"


async def test_one_notice_shows_its_receipt_decision_and_history(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    detail = (await api.get("ana", f"{CHANNEL}/notices/{notice_id}")).json()

    assert detail["decision"]["decision"] == "acknowledged"
    assert [e["type"] for e in detail["history"]] == [
        "notice.sent",
        "notice.received",
        "notice.acknowledged",
    ]


async def test_listing_pages_through_notices_newest_first(api: Api) -> None:
    sent = [(await api.send("ana", subject=f"Notice {n}")).json()["id"] for n in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("carla", f"{CHANNEL}/notices", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(sent))


async def test_listing_filters_by_state_and_by_what_awaits_a_decision(api: Api) -> None:
    first = (await api.send("ana", subject="First")).json()["id"]
    second = (await api.send("ana", subject="Second", priority="urgent")).json()["id"]
    await api.send("carla", subject="From roads", ack_required=False)
    await api.act("carla", first, "decision", {"decision": "acknowledged"})

    async def ids(**params: object) -> list[str]:
        page = await api.get("dev", f"{CHANNEL}/notices", params=params)
        return [item["id"] for item in page.json()["items"]]

    assert await ids(status="acknowledged") == [first]
    assert await ids(priority="urgent") == [second]
    assert await ids(awaiting_decision="true") == [second]
    assert len(await ids(sent_by="water")) == 2


async def test_concurrent_senders_get_one_gapless_order(api: Api) -> None:
    """Two parties each send 50 notices at once: the log is numbered 1..100."""
    senders = ["ana", "ben", "carla", "dev"]
    responses = await asyncio.gather(
        *(api.send(senders[n % 4], subject=f"Concurrent {n}") for n in range(100))
    )

    assert all(r.status_code == 201 for r in responses), [r.text for r in responses][:3]
    log = await api.log()
    assert [e["seq"] for e in log] == list(range(1, 101))
    assert sorted(r.json()["seq"] for r in responses) == list(range(1, 101))
    times = [e["at"] for e in log]
    assert times == sorted(times), "server times rise with sequence numbers"
