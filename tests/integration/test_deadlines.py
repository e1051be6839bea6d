"""The deadline watcher: a missed acknowledgement deadline is an event (guarantee 6).

The tests call the watcher's sweep, ``commands.mark_overdue``, themselves rather than
waiting for the background loop. To make a deadline pass without sleeping, the demo
channel is given a policy under which important and urgent notices are due the moment
they are sent (routine ones keep three days). The app runs without its lifespan, so the
background loop never starts and never races the tests' own sweeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.protocol import schemas
from client.protocol.note import Signer, generate_key
from client.protocol.times import parse_time
from client.protocol.vocabulary import Priority
from server.app import create_app
from server.config import Settings
from server.domain.model import Policy
from server.fanout import Hub
from server.keys import LogKeys
from server.service import admin, commands, demo
from server.service.log import Checkpoints
from server.store.db import Database
from tests.integration.conftest import Api

NOTICES = f"/api/v1/channels/{demo.CHANNEL}/notices"

DUE_AT_ONCE = Policy(
    ack_deadlines={
        Priority.ROUTINE: timedelta(days=3),
        Priority.IMPORTANT: timedelta(0),
        Priority.URGENT: timedelta(0),
    }
)
"""Important and urgent notices are overdue as soon as they are sent."""


@pytest.fixture
async def api(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The demo on a channel with the ``DUE_AT_ONCE`` policy, and no background watcher."""
    # The demo seeding keeps parties and channels that already exist.
    for party_id, name in demo.PARTIES.items():
        await admin.create_party(db, party_id, name=name)
    await admin.create_channel(db, demo.CHANNEL, parties=("water", "roads"), policy=DUE_AT_ONCE)
    operators = await demo.seed(db)
    settings = Settings(database_url=database_url, log_key_file=tmp_path / "log.key")
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the watcher is never started
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield Api(client, {o.id: o.token for o in operators})


async def send(api: Api, **fields: Any) -> dict[str, Any]:
    """Send an urgent notice (due at once) from water; returns it."""
    response = await api.send("ana", **{"priority": "urgent", **fields})
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


async def read(api: Api, notice_id: str) -> dict[str, Any]:
    response = await api.get("carla", f"{NOTICES}/{notice_id}")
    assert response.status_code == 200, response.text
    notice: dict[str, Any] = response.json()
    return notice


def types(log: Sequence[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in log]


async def test_a_missed_deadline_is_logged_by_the_server_itself(api: Api, db: Database) -> None:
    sent = await send(api)

    swept = await commands.mark_overdue(db)

    assert [(e.type, e.actor, e.data) for e in swept] == [
        ("notice.overdue", None, {"notice": sent["id"], "due_at": sent["ack_due_at"]})
    ]
    log = await api.log("carla")
    assert types(log) == ["notice.sent", "notice.overdue"]
    assert log[-1]["actor"] is None
    assert log[-1] == swept[0].model_dump(mode="json")
    notice = await read(api, sent["id"])
    assert notice["status"] == "overdue"
    assert notice["overdue_at"] == log[-1]["at"]
    assert parse_time(notice["overdue_at"]) >= parse_time(notice["ack_due_at"])
    assert types(notice["history"]) == ["notice.sent", "notice.overdue"]


async def test_an_overdue_notice_still_awaits_a_decision(api: Api, db: Database) -> None:
    sent = await send(api)
    await commands.mark_overdue(db)

    awaiting = await api.get("dev", NOTICES, params={"awaiting_decision": "true"})
    overdue = await api.get("dev", NOTICES, params={"status": "overdue"})

    assert [n["id"] for n in awaiting.json()["items"]] == [sent["id"]]
    assert [n["id"] for n in overdue.json()["items"]] == [sent["id"]]


async def test_a_second_sweep_logs_nothing(api: Api, db: Database) -> None:
    sent = await send(api)
    await commands.mark_overdue(db)
    before = await read(api, sent["id"])

    again = await commands.mark_overdue(db)

    assert again == []
    assert types(await api.log()) == ["notice.sent", "notice.overdue"]
    assert await read(api, sent["id"]) == before


async def test_a_received_notice_goes_overdue_too(api: Api, db: Database) -> None:
    sent = await send(api)
    received = await api.act("carla", sent["id"], "receipt")

    swept = await commands.mark_overdue(db)

    assert [e.type for e in swept] == ["notice.overdue"]
    notice = await read(api, sent["id"])
    assert notice["status"] == "overdue"
    assert notice["receipt"] == received.json()["receipt"]


async def test_a_receipt_after_the_deadline_keeps_the_notice_overdue(
    api: Api, db: Database
) -> None:
    sent = await send(api)
    await commands.mark_overdue(db)

    received = await api.act("carla", sent["id"], "receipt")

    assert received.status_code == 200, received.text
    assert received.json()["status"] == "overdue"
    assert received.json()["receipt"]["operator"] == "carla"
    assert types(await api.log()) == ["notice.sent", "notice.overdue", "notice.received"]
    assert await commands.mark_overdue(db) == []


@pytest.mark.parametrize(
    "body",
    [{"decision": "acknowledged"}, {"decision": "objected", "reason": "Crew booked"}],
    ids=["acknowledged", "objected"],
)
async def test_an_overdue_notice_can_still_be_decided(
    api: Api, db: Database, body: dict[str, Any]
) -> None:
    sent = await send(api)
    [overdue] = await commands.mark_overdue(db)

    decided = await api.act("carla", sent["id"], "decision", body)

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == body["decision"]
    assert decided.json()["decision"]["decision"] == body["decision"]
    assert decided.json()["overdue_at"] == overdue.model_dump(mode="json")["at"]
    assert types(await api.log()) == [
        "notice.sent",
        "notice.overdue",
        "notice.received",
        f"notice.{body['decision']}",
    ]
    assert await commands.mark_overdue(db) == []


async def test_an_overdue_notice_can_still_be_cancelled_by_its_sender(
    api: Api, db: Database
) -> None:
    sent = await send(api)
    await commands.mark_overdue(db)

    cancelled = await api.act("ben", sent["id"], "cancellation", {"reason": "Postponed"})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await commands.mark_overdue(db) == []
    assert types(await api.log()) == ["notice.sent", "notice.overdue", "notice.cancelled"]


async def test_a_notice_that_needs_no_acknowledgement_never_goes_overdue(
    api: Api, db: Database
) -> None:
    sent = await send(api, ack_required=False)

    swept = await commands.mark_overdue(db)

    assert sent["ack_due_at"] is None
    assert swept == []
    assert (await read(api, sent["id"]))["status"] == "sent"
    assert types(await api.log()) == ["notice.sent"]


@pytest.mark.parametrize(
    "body",
    [{"decision": "acknowledged"}, {"decision": "objected", "reason": "Crew booked"}],
    ids=["acknowledged", "objected"],
)
async def test_a_decided_notice_never_goes_overdue(
    api: Api, db: Database, body: dict[str, Any]
) -> None:
    sent = await send(api)
    await api.act("dev", sent["id"], "decision", body)

    swept = await commands.mark_overdue(db)

    assert swept == []
    notice = await read(api, sent["id"])
    assert notice["status"] == body["decision"]
    assert notice["overdue_at"] is None
    assert types(await api.log()) == [
        "notice.sent",
        "notice.received",
        f"notice.{body['decision']}",
    ]


async def test_a_cancelled_notice_never_goes_overdue(api: Api, db: Database) -> None:
    sent = await send(api)
    await api.act("ana", sent["id"], "cancellation")

    assert await commands.mark_overdue(db) == []
    assert (await read(api, sent["id"]))["status"] == "cancelled"


async def test_a_deadline_still_ahead_is_left_alone(api: Api, db: Database) -> None:
    sent = await send(api, priority="routine")

    swept = await commands.mark_overdue(db)

    assert swept == []
    assert parse_time(sent["ack_due_at"]) - parse_time(sent["sent_at"]) == timedelta(days=3)
    assert (await read(api, sent["id"]))["status"] == "sent"


async def test_one_sweep_marks_every_missed_deadline_in_log_order(api: Api, db: Database) -> None:
    first = await send(api, subject="First")
    second = await send(api, subject="Second", priority="important")
    await send(api, subject="Routine", priority="routine")
    from_roads = (await api.send("carla", subject="From roads", priority="urgent")).json()

    swept = await commands.mark_overdue(db)

    assert [e.data["notice"] for e in swept] == [first["id"], second["id"], from_roads["id"]]
    assert [e.seq for e in swept] == [5, 6, 7]
    assert await commands.mark_overdue(db) == []


async def test_a_sweep_takes_at_most_its_limit_and_the_next_takes_the_rest(
    api: Api, db: Database
) -> None:
    sent = [(await send(api, subject=f"Burst main {n}"))["id"] for n in range(3)]

    first = await commands.mark_overdue(db, limit=2)
    second = await commands.mark_overdue(db, limit=2)

    assert [e.data["notice"] for e in first] == sent[:2]
    assert [e.data["notice"] for e in second] == sent[2:]


class RecordingFanout:
    """A fan-out that remembers what was published to it."""

    def __init__(self) -> None:
        self.hub = Hub(Checkpoints(LogKeys(Signer.parse(generate_key("test.example")[0]))))
        self.published: list[schemas.Event] = []

    async def publish(self, events: Sequence[schemas.Event], *, root: bytes) -> None:
        self.published.extend(events)


async def test_overdue_events_are_published_to_connected_clients(api: Api, db: Database) -> None:
    await send(api)
    fanout = RecordingFanout()

    swept = await commands.mark_overdue(db, fanout=fanout)

    assert len(swept) == 1
    assert fanout.published == swept
