"""The channel's policy over REST: shown as the log says, changed only when both parties agree.

Each test runs on SQLite and on PostgreSQL, on a hand-moved clock (``clocked.py``): wanda
is water's admin, raj roads'; ana and carla are operators, not admins.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from client.protocol import schemas
from client.protocol.times import format_time
from server.config import Settings
from server.domain.model import Policy
from server.domain.policy import policy_wire
from server.service import demo
from server.store.db import Database
from tests.integration.clocked import OTHERS, START, Line, clocked

POLICY = f"/api/v1/channels/{demo.CHANNEL}/policy"
PROPOSALS = f"{POLICY}/proposals"
DEFAULT = policy_wire(Policy())
"""The policy every channel begins with, in its JSON form."""
HOURLY = {
    **DEFAULT,
    "ack_deadline_seconds": {"routine": 172800, "important": 43200, "urgent": 1800},
    "escalate_to": {"roads": ["dev"]},
    "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
}
"""A policy both parties might agree to: shorter deadlines and hourly checks."""


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    async with clocked(db, settings) as line:
        yield line


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem details of a refusal, checked to be one."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def propose(
    line: Line, operator: str = "wanda", policy: dict[str, Any] | None = None, **fields: Any
) -> httpx.Response:
    """Propose ``policy`` (``HOURLY`` by default) with a fresh id unless one is given."""
    body = {"id": str(uuid.uuid4()), "policy": HOURLY if policy is None else policy, **fields}
    return await line.api.post(operator, PROPOSALS, body)


async def proposed(line: Line, operator: str = "wanda", **fields: Any) -> dict[str, Any]:
    """A proposal made, checked to be created."""
    response = await propose(line, operator, **fields)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def act(line: Line, operator: str, proposal: str, action: str) -> httpx.Response:
    """``accept`` or ``withdraw`` a proposal."""
    return await line.api.post(operator, f"{PROPOSALS}/{proposal}/{action}")


async def state(line: Line, operator: str = "ana") -> dict[str, Any]:
    response = await line.api.get(operator, POLICY)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


# -- the policy in force ---------------------------------------------------------------------


async def test_a_channel_begins_with_the_default_policy_and_nothing_pending(line: Line) -> None:
    for operator in ("ana", "carla", "wanda"):
        assert await state(line, operator) == {
            "in_force": DEFAULT,
            "policy_id": None,
            "since_seq": None,
            "pending": None,
        }


def test_a_policy_stored_before_chasing_existed_is_served_with_the_defaults() -> None:
    older = {key: DEFAULT[key] for key in ("ack_deadline_seconds", "min_advance_notice_seconds")}

    served = schemas.PolicyOut.model_validate(older).model_dump(mode="json")

    assert served == DEFAULT


# -- proposing and accepting ----------------------------------------------------------------


async def test_a_proposal_is_in_force_once_the_other_partys_admin_accepts_it(line: Line) -> None:
    proposal = await proposed(line, lapses_in_seconds=3600)
    waiting = await state(line, "carla")
    line.advance(timedelta(minutes=10))
    accepted = await act(line, "raj", proposal["id"], "accept")

    assert proposal == {
        "id": proposal["id"],
        "policy": HOURLY,
        "party": "water",
        "operator": "wanda",
        "proposed_at": format_time(START),
        "lapses_at": format_time(START + timedelta(hours=1)),
    }
    assert waiting["in_force"] == DEFAULT
    assert waiting["pending"] == proposal
    assert accepted.status_code == 200, accepted.text
    log = await line.api.log("carla")
    assert [(e["type"], e["actor"]) for e in log] == [
        ("channel.policy_proposed", {"party": "water", "operator": "wanda"}),
        ("channel.policy_changed", {"party": "roads", "operator": "raj"}),
    ]
    assert log[0]["data"] == {
        "proposal": proposal["id"],
        "policy": HOURLY,
        "lapses_at": proposal["lapses_at"],
    }
    assert log[1]["data"] == {
        "proposal": proposal["id"],
        "policy": HOURLY,
        "proposed_by": {"party": "water", "operator": "wanda"},
    }
    assert accepted.json() == {
        "in_force": HOURLY,
        "policy_id": proposal["id"],
        "since_seq": log[1]["seq"],
        "pending": None,
    }
    assert await state(line, "ana") == accepted.json()
    channel = await line.api.get("ana", f"/api/v1/channels/{demo.CHANNEL}")
    assert channel.json()["policy"] == HOURLY


async def test_a_proposal_may_leave_out_the_chase_and_gets_the_defaults(line: Line) -> None:
    policy = {
        "ack_deadline_seconds": {"routine": 3600, "important": 1800, "urgent": 600},
        "min_advance_notice_seconds": {"routine": 0, "important": 0, "urgent": 0},
    }

    proposal = await proposed(line, policy=policy)

    assert proposal["policy"] == {**DEFAULT, **policy}


async def test_a_whole_number_written_with_a_zero_fraction_is_that_number(line: Line) -> None:
    # JSON Schema's integer is any number whose fraction is zero: the document allows 600.0.
    policy = {
        "ack_deadline_seconds": {"routine": 3600.0, "important": 1800, "urgent": 600},
        "min_advance_notice_seconds": {"routine": 0, "important": 0, "urgent": 0.0},
    }

    proposal = await proposed(line, policy=policy)

    assert proposal["policy"]["ack_deadline_seconds"] == {
        "routine": 3600,
        "important": 1800,
        "urgent": 600,
    }
    assert proposal["policy"]["min_advance_notice_seconds"]["urgent"] == 0
    assert type(proposal["policy"]["ack_deadline_seconds"]["routine"]) is int


async def test_proposing_the_same_id_again_returns_the_proposal_and_logs_nothing_more(
    line: Line,
) -> None:
    proposal = await proposed(line)
    line.advance(timedelta(seconds=5))

    again = await propose(line, id=proposal["id"])

    assert again.status_code == 200, again.text
    assert again.json() == proposal
    assert [e["type"] for e in await line.api.log()] == ["channel.policy_proposed"]


async def test_proposing_the_same_id_again_once_it_lapsed_is_a_conflict(line: Line) -> None:
    proposal = await proposed(line, lapses_in_seconds=60)
    line.advance(timedelta(seconds=60))

    again = await propose(line, id=proposal["id"], lapses_in_seconds=60)

    found = problem(again, 409, "proposal-id-conflict")
    assert "lapsed" in found["detail"]
    assert [e["type"] for e in await line.api.log()] == ["channel.policy_proposed"]


async def test_the_same_proposal_id_with_another_policy_is_a_conflict(line: Line) -> None:
    proposal = await proposed(line)

    other = await propose(line, id=proposal["id"], policy=DEFAULT)

    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert (await state(line))["pending"] == proposal


async def test_a_newer_proposal_replaces_the_one_waiting(line: Line) -> None:
    first = await proposed(line, "wanda")
    second = await proposed(line, "raj", policy=DEFAULT)

    too_late = await act(line, "raj", first["id"], "accept")

    problem(too_late, 409, "proposal-closed")
    assert (await state(line))["pending"] == second
    log = await line.api.log()
    assert log[-1]["data"]["supersedes"] == first["id"]


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["ana", "carla"])
async def test_an_operator_who_is_not_an_admin_may_not_propose(line: Line, operator: str) -> None:
    problem(await propose(line, operator), 403, "forbidden")

    assert await line.api.log() == []


async def test_an_operator_who_is_not_an_admin_may_not_accept_or_withdraw(line: Line) -> None:
    proposal = await proposed(line)

    problem(await act(line, "carla", proposal["id"], "accept"), 403, "forbidden")
    problem(await act(line, "ana", proposal["id"], "withdraw"), 403, "forbidden")

    assert (await state(line))["pending"] == proposal


async def test_a_party_may_not_accept_its_own_proposal(line: Line) -> None:
    proposal = await proposed(line, "wanda")

    problem(await act(line, "wanda", proposal["id"], "accept"), 403, "forbidden")

    assert (await state(line))["in_force"] == DEFAULT


async def test_only_the_proposing_party_may_withdraw_its_proposal(line: Line) -> None:
    proposal = await proposed(line, "wanda")

    problem(await act(line, "raj", proposal["id"], "withdraw"), 403, "forbidden")
    withdrawn = await act(line, "wanda", proposal["id"], "withdraw")

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json() == {
        "in_force": DEFAULT,
        "policy_id": None,
        "since_seq": None,
        "pending": None,
    }
    log = await line.api.log()
    assert (log[-1]["type"], log[-1]["data"]) == (
        "channel.policy_withdrawn",
        {"proposal": proposal["id"]},
    )


async def test_a_withdrawn_proposal_can_no_longer_be_accepted(line: Line) -> None:
    proposal = await proposed(line, "wanda")
    await act(line, "wanda", proposal["id"], "withdraw")

    problem(await act(line, "raj", proposal["id"], "accept"), 409, "proposal-closed")
    problem(await act(line, "wanda", proposal["id"], "withdraw"), 409, "proposal-closed")


async def test_a_lapsed_proposal_can_be_neither_accepted_nor_withdrawn(line: Line) -> None:
    proposal = await proposed(line, lapses_in_seconds=60)
    line.advance(timedelta(seconds=59, milliseconds=999))
    still = await state(line)
    line.advance(timedelta(milliseconds=1))

    accepting = await act(line, "raj", proposal["id"], "accept")
    withdrawing = await act(line, "wanda", proposal["id"], "withdraw")

    assert still["pending"] == proposal
    problem(accepting, 409, "proposal-closed")
    problem(withdrawing, 409, "proposal-closed")
    assert await state(line) == {
        "in_force": DEFAULT,
        "policy_id": None,
        "since_seq": None,
        "pending": None,
    }
    assert [e["type"] for e in await line.api.log()] == ["channel.policy_proposed"]


async def test_a_proposal_nobody_made_is_not_waiting(line: Line) -> None:
    problem(await act(line, "raj", str(uuid.uuid4()), "accept"), 409, "proposal-closed")


async def test_accepting_the_proposal_in_force_again_changes_nothing(line: Line) -> None:
    proposal = await proposed(line)
    first = await act(line, "raj", proposal["id"], "accept")

    again = await act(line, "raj", proposal["id"], "accept")

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert len(await line.api.log()) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", "/proposals"),
        ("POST", "/proposals/0b7e4f0c-2f6e-4d33-9a59-3d6c1b2a9e41/accept"),
        ("POST", "/proposals/0b7e4f0c-2f6e-4d33-9a59-3d6c1b2a9e41/withdraw"),
    ],
)
@pytest.mark.parametrize("channel", [OTHERS, "no-such-channel"])
async def test_a_channel_of_other_parties_is_not_found(
    line: Line, method: str, path: str, channel: str
) -> None:
    body = {"id": str(uuid.uuid4()), "policy": HOURLY} if path == "/proposals" else None
    response = await line.api.client.request(
        method,
        f"/api/v1/channels/{channel}/policy{path}",
        headers=line.api.auth("wanda"),
        json=body,
    )

    problem(response, 404, "not-found")


async def test_every_policy_call_needs_a_token(line: Line) -> None:
    for response in (
        await line.api.client.get(POLICY),
        await line.api.client.post(PROPOSALS, json={"id": str(uuid.uuid4()), "policy": HOURLY}),
        await line.api.client.post(f"{PROPOSALS}/{uuid.uuid4()}/accept"),
        await line.api.client.post(f"{PROPOSALS}/{uuid.uuid4()}/withdraw"),
    ):
        problem(response, 401, "unauthenticated")


def without(policy: dict[str, Any], *path: str) -> dict[str, Any]:
    """``policy`` with the member at ``path`` left out."""
    copy: dict[str, Any] = {**policy}
    inner = copy
    for key in path[:-1]:
        inner[key] = {**inner[key]}
        inner = inner[key]
    del inner[path[-1]]
    return copy


def changed(policy: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    """``policy`` with the member at ``path`` set to ``value``."""
    copy: dict[str, Any] = {**policy}
    inner = copy
    for key in path[:-1]:
        inner[key] = {**inner[key]}
        inner = inner[key]
    inner[path[-1]] = value
    return copy


def body_with(policy: dict[str, Any] = HOURLY, **fields: Any) -> dict[str, Any]:
    """A proposal's body with a fresh id."""
    return {"id": str(uuid.uuid4()), "policy": policy, **fields}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"policy": HOURLY}, "body.id"),
        (body_with(id="not-a-uuid"), "body.id"),
        ({"id": str(uuid.uuid4())}, "body.policy"),
        (body_with(colour="red"), "body.colour"),
        (body_with(lapses_in_seconds=59), "body.lapses_in_seconds"),
        (body_with(lapses_in_seconds=2_592_001), "body.lapses_in_seconds"),
        (
            body_with(without(HOURLY, "ack_deadline_seconds", "urgent")),
            "body.policy.ack_deadline_seconds.urgent",
        ),
        (
            body_with(changed(HOURLY, -1, "min_advance_notice_seconds", "routine")),
            "body.policy.min_advance_notice_seconds.routine",
        ),
        (
            body_with(changed(HOURLY, 21, "chase", "urgent", "reminders")),
            "body.policy.chase.urgent.reminders",
        ),
        (
            body_with(changed(HOURLY, 0, "chase", "routine", "remind_every_seconds")),
            "body.policy.chase.routine.remind_every_seconds",
        ),
        (
            body_with(changed(HOURLY, 59, "checks", "every_seconds")),
            "body.policy.checks.every_seconds",
        ),
        (
            body_with(changed(HOURLY, ["Dev"], "escalate_to", "roads")),
            "body.policy.escalate_to.roads.0",
        ),
        (body_with(changed(HOURLY, 1, "surprise")), "body.policy.surprise"),
        (
            body_with(changed(HOURLY, 0, "ack_deadline_seconds", "urgent")),
            "body.policy.ack_deadline_seconds.urgent",
        ),
        (
            body_with(changed(HOURLY, 3600.5, "ack_deadline_seconds", "urgent")),
            "body.policy.ack_deadline_seconds.urgent",
        ),
        (
            body_with(changed(HOURLY, "3600", "checks", "every_seconds")),
            "body.policy.checks.every_seconds",
        ),
        (body_with(changed(HOURLY, 0, "require_signatures")), "body.policy.require_signatures"),
        (body_with(lapses_in_seconds=True), "body.lapses_in_seconds"),
    ],
)
async def test_a_malformed_proposal_is_refused_with_the_field_at_fault(
    line: Line, body: dict[str, Any], field: str
) -> None:
    response = await line.api.post("wanda", PROPOSALS, body)

    found = problem(response, 422, "invalid-request")
    assert field in [error["field"] for error in found["errors"]]
    assert await line.api.log() == []


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b"null", b'{"id": "\xff"}'],
    ids=["empty", "cut", "a list", "null", "not UTF-8"],
)
async def test_a_body_that_is_not_a_json_object_is_an_invalid_request(
    line: Line, content: bytes
) -> None:
    response = await line.api.client.post(
        PROPOSALS,
        content=content,
        headers={**line.api.auth("wanda"), "content-type": "application/json"},
    )

    problem(response, 422, "invalid-request")


@pytest.mark.parametrize(
    "policy",
    [
        changed(HOURLY, {"every_seconds": 600, "answer_within_seconds": 600}, "checks"),
        changed(HOURLY, {"gas": ["gus"]}, "escalate_to"),
        changed(HOURLY, {"roads": ["wanda"]}, "escalate_to"),
        changed(HOURLY, {"roads": ["dev", "nobody"]}, "escalate_to"),
    ],
    ids=[
        "an answer window as long as the interval",
        "a stranger party",
        "an operator of the other party",
        "nobody at all",
    ],
)
async def test_a_policy_that_breaks_a_rule_of_policies_is_invalid(
    line: Line, policy: dict[str, Any]
) -> None:
    found = problem(await propose(line, policy=policy), 422, "invalid")

    assert found["errors"][0]["field"] == "policy"
    assert await line.api.log() == []
