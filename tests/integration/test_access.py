"""Who may do what, over the REST API: tokens, party boundaries, roles (guarantees 5 and 9).

Every refusal is checked twice: the answer is a clear problem, and the log (and the notice)
are exactly as they were before the refused request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from client.protocol.vocabulary import Role
from server.service import access, admin
from server.store.db import Database
from server.store.models import Base, TokenRow
from tests.integration.conftest import Api

WATER_ROADS = "/api/v1/channels/water-roads"
PARKS_ROADS = "/api/v1/channels/parks-roads"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:hotline:problem:{code}"
    return problem


async def notice(api: Api, notice_id: str, operator: str = "ana") -> dict[str, Any]:
    """The notice as the water side reads it now."""
    response = await api.get(operator, f"{WATER_ROADS}/notices/{notice_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_operator(api: Api, db: Database, operator: str, party: str, role: Role) -> None:
    """Create an operator and give ``api`` a token for it."""
    await admin.create_operator(db, operator, party=party, name=operator.title(), role=role)
    _, token = await access.issue_token(db, operator)
    api.tokens[operator] = token


@pytest.fixture
async def parks(api: Api, db: Database) -> str:
    """A third party, parks, with operator pat and a channel to roads holding one notice.

    Returns:
        The id of the notice pat sent on ``parks-roads``.
    """
    await admin.create_party(db, "parks", name="City Parks")
    await add_operator(api, db, "pat", "parks", Role.OPERATOR)
    await admin.create_channel(db, "parks-roads", parties=("parks", "roads"))
    sent = await api.send("pat", "parks-roads", subject="Tree felling, Mill Park")
    assert sent.status_code == 201, sent.text
    notice_id: str = sent.json()["id"]
    return notice_id


async def parks_log(api: Api) -> list[dict[str, Any]]:
    response = await api.get("pat", f"{PARKS_ROADS}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


# -- authentication ----------------------------------------------------------------------

PROTECTED = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/channels"),
    ("GET", WATER_ROADS),
    ("GET", f"{WATER_ROADS}/events"),
    ("GET", f"{WATER_ROADS}/notices"),
    ("POST", f"{WATER_ROADS}/notices"),
    ("GET", f"{WATER_ROADS}/notices/{{notice}}"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/receipt"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/decision"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/cancellation"),
]


def _request_body(method: str, path: str) -> dict[str, Any] | None:
    # A well-formed body, so that the only thing wrong with the request is its token.
    if method == "GET" or path.endswith(("receipt", "cancellation")):
        return None
    if path.endswith("decision"):
        return {"decision": "acknowledged"}
    return {"id": str(uuid.uuid4()), "subject": "Hydrant test"}


async def test_every_api_route_refuses_a_request_without_a_token(
    api: Api, subtests: pytest.Subtests
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = await notice(api, notice_id)

    for method, path in PROTECTED:
        with subtests.test(f"{method} {path}"):
            response = await api.client.request(
                method, path.format(notice=notice_id), json=_request_body(method, path)
            )

            assert_problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"] == "Bearer"
    assert len(await api.log()) == 1
    assert await notice(api, notice_id) == before


MALFORMED_AUTHORIZATION = {
    "basic scheme": "Basic YW5hOnNlY3JldA==",
    "scheme without token": "Bearer",
    "scheme with empty token": "Bearer ",
    "token without scheme": "hl_abcdefghijklmnopqrstuvwxyz",
    "other scheme": "Token hl_abcdefghijklmnopqrstuvwxyz",
    "no hl_ prefix": "Bearer not-a-hotline-token",
    "absurdly long": "Bearer hl_" + "a" * 400,
}


async def test_a_malformed_authorization_header_is_unauthenticated(
    api: Api, subtests: pytest.Subtests
) -> None:
    for case, authorization in MALFORMED_AUTHORIZATION.items():
        with subtests.test(case):
            response = await api.client.post(
                f"{WATER_ROADS}/notices",
                headers={"Authorization": authorization},
                json={"id": str(uuid.uuid4()), "subject": "Hydrant test"},
            )

            assert_problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"] == "Bearer"
    assert await api.log() == []


async def test_an_unknown_token_is_unauthenticated(api: Api) -> None:
    forged = access.TOKEN_PREFIX + base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")

    response = await api.client.post(
        f"{WATER_ROADS}/notices",
        headers={"Authorization": f"Bearer {forged}"},
        json={"id": str(uuid.uuid4()), "subject": "Hydrant test"},
    )

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert await api.log() == []


async def test_a_revoked_token_stops_working_at_once(api: Api, db: Database) -> None:
    token_id, token = await access.issue_token(db, "ana", label="laptop")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/v1/me", headers=headers)).status_code == 200

    assert await access.revoke(db, token_id=token_id) == 1
    me = await api.client.get("/api/v1/me", headers=headers)
    sent = await api.client.post(
        f"{WATER_ROADS}/notices",
        headers=headers,
        json={"id": str(uuid.uuid4()), "subject": "Hydrant test"},
    )

    for response in (me, sent):
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert await api.log() == []
    # The operator's other tokens are untouched.
    assert (await api.get("ana", "/api/v1/me")).status_code == 200


async def test_the_revocation_watch_finds_which_of_its_tokens_are_revoked(db: Database) -> None:
    await admin.create_party(db, "water", name="Riverside Water")
    await admin.create_operator(db, "ana", party="water", name="Ana Lopez")
    revoked, live = [(await access.issue_token(db, "ana"))[0] for _ in range(2)]
    elsewhere = (await access.issue_token(db, "ana"))[0]  # revoked, but not asked about
    for token_id in (revoked, elsewhere):
        assert await access.revoke(db, token_id=token_id) == 1
    # More ids than one query takes, most of them unknown: asked in chunks, none lost.
    unknown = {uuid.uuid4() for _ in range(2 * access.REVOKED_LOOKUP_CHUNK + 1)}

    found = await access.revoked_among(db, {revoked, live} | unknown)

    assert found == {revoked}
    assert await access.revoked_among(db, set()) == set()


async def test_issued_tokens_are_long_random_and_prefixed(db: Database) -> None:
    await admin.create_party(db, "water", name="Riverside Water")
    await admin.create_operator(db, "ana", party="water", name="Ana Lopez")
    tokens = [(await access.issue_token(db, "ana"))[1] for _ in range(20)]

    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert token.startswith("hl_")
        secret = token.removeprefix("hl_")
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        assert len(raw) * 8 >= 128, "at least 128 random bits"


async def test_tokens_are_stored_only_as_sha256_hashes(api: Api, db: Database) -> None:
    issued = [(await access.issue_token(db, "ana", label="cli"))[1] for _ in range(3)]
    every_token = [*issued, *api.tokens.values()]

    async with db.session() as session:
        hashes = set((await session.scalars(select(TokenRow.token_hash))).all())
        everything = []
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(text(f"SELECT * FROM {table.name}"))).all()  # noqa: S608
            everything += [str(value) for row in rows for value in row]

    assert {hashlib.sha256(t.encode()).hexdigest() for t in every_token} <= hashes
    stored = "\n".join(everything)
    for token in every_token:
        assert token not in stored
        assert token.removeprefix("hl_") not in stored


# -- party boundaries --------------------------------------------------------------------


async def test_an_operator_lists_only_its_own_partys_channels(api: Api, parks: str) -> None:
    water = await api.get("ana", "/api/v1/channels")
    roads = await api.get("carla", "/api/v1/channels")
    park = await api.get("pat", "/api/v1/channels")

    assert [c["id"] for c in water.json()] == ["water-roads"]
    assert [c["id"] for c in roads.json()] == ["parks-roads", "water-roads"]
    assert [c["id"] for c in park.json()] == ["parks-roads"]


OUT_OF_SIGHT = [
    ("GET", PARKS_ROADS),
    ("GET", f"{PARKS_ROADS}/events"),
    ("GET", f"{PARKS_ROADS}/notices"),
    ("POST", f"{PARKS_ROADS}/notices"),
    ("GET", f"{PARKS_ROADS}/notices/{{notice}}"),
    ("POST", f"{PARKS_ROADS}/notices/{{notice}}/receipt"),
    ("POST", f"{PARKS_ROADS}/notices/{{notice}}/decision"),
    ("POST", f"{PARKS_ROADS}/notices/{{notice}}/cancellation"),
    # The other channel's notice id, asked for under the caller's own channel.
    ("GET", f"{WATER_ROADS}/notices/{{notice}}"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/receipt"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/decision"),
    ("POST", f"{WATER_ROADS}/notices/{{notice}}/cancellation"),
]


async def test_another_partys_channel_is_not_found_rather_than_forbidden(
    api: Api, parks: str, subtests: pytest.Subtests
) -> None:
    before_log = await parks_log(api)
    before = (await api.get("pat", f"{PARKS_ROADS}/notices/{parks}")).json()

    for method, path in OUT_OF_SIGHT:
        with subtests.test(f"{method} {path}"):
            response = await api.client.request(
                method,
                path.format(notice=parks),
                headers=api.auth("ana"),
                json=_request_body(method, path),
            )

            assert_problem(response, 404, "not-found")
            assert "Tree felling" not in response.text
    assert await parks_log(api) == before_log
    assert (await api.get("pat", f"{PARKS_ROADS}/notices/{parks}")).json() == before
    assert await api.log() == []


async def test_an_invisible_channel_answers_exactly_like_a_missing_one(
    api: Api, parks: str, subtests: pytest.Subtests
) -> None:
    def anonymised(response: httpx.Response, channel: str) -> dict[str, Any]:
        problem = {k: v for k, v in response.json().items() if k != "instance"}
        return {**problem, "detail": problem["detail"].replace(channel, "<channel>")}

    for path in ["", "/events", "/notices", f"/notices/{parks}"]:
        with subtests.test(path or "/"):
            hidden = await api.get("ana", f"{PARKS_ROADS}{path}")
            missing = await api.get("ana", f"/api/v1/channels/no-such-channel{path}")

            assert hidden.status_code == missing.status_code == 404
            assert anonymised(hidden, "parks-roads") == anonymised(missing, "no-such-channel")


async def test_referring_to_another_channels_notice_is_like_referring_to_none(
    api: Api, parks: str
) -> None:
    to_hidden = await api.send("ana", refers_to=parks)
    to_nothing = await api.send("ana", refers_to=str(uuid.uuid4()))

    hidden_problem = assert_problem(to_hidden, 422, "invalid")
    nothing_problem = assert_problem(to_nothing, 422, "invalid")
    assert hidden_problem["errors"] == nothing_problem["errors"]
    assert [e["field"] for e in hidden_problem["errors"]] == ["refers_to"]
    assert await api.log() == []


async def test_reusing_another_channels_notice_id_is_refused_without_revealing_it(
    api: Api, parks: str
) -> None:
    before_log = await parks_log(api)

    # Ids are unique for ever, across channels, so the id cannot be taken again; but the
    # answer says nothing about the notice that holds it.
    response = await api.send("ana", id=parks, subject="Tree felling, Mill Park")

    assert_problem(response, 409, "notice-id-conflict")
    assert "parks" not in response.text
    assert "Tree felling" not in response.json()["detail"]
    assert await api.log() == []
    assert await parks_log(api) == before_log


# -- nobody acts as the other party --------------------------------------------------------


async def test_the_sender_is_always_the_tokens_party_and_operator(api: Api) -> None:
    sent = await api.send("carla", subject="Resurfacing, Mill Lane")

    assert sent.json()["sender"] == {"party": "roads", "operator": "carla"}
    assert (await api.log())[0]["actor"] == {"party": "roads", "operator": "carla"}


SENDER_CLAIMS: list[dict[str, Any]] = [
    {"sender": {"party": "water", "operator": "ana"}},
    {"sender_party": "water"},
    {"party": "water"},
    {"operator": "ana"},
]


async def test_a_body_that_claims_a_sender_is_refused(api: Api, subtests: pytest.Subtests) -> None:
    for claim in SENDER_CLAIMS:
        [name] = claim
        with subtests.test(name):
            body = {"id": str(uuid.uuid4()), "subject": "Resurfacing, Mill Lane", **claim}
            response = await api.post("carla", f"{WATER_ROADS}/notices", body)

            problem = assert_problem(response, 422, "invalid-request")
            assert [e["field"] for e in problem["errors"]] == [f"body.{name}"]
    assert await api.log() == []


async def test_a_party_cannot_replay_the_other_partys_notice_as_its_own(api: Api) -> None:
    notice_id = str(uuid.uuid4())
    original = await api.send("ana", id=notice_id, subject="Hydrant test")

    replay = await api.send("carla", id=notice_id, subject="Hydrant test")

    assert original.status_code == 201
    assert_problem(replay, 409, "notice-id-conflict")
    assert (await notice(api, notice_id))["sender"] == {"party": "water", "operator": "ana"}
    assert len(await api.log()) == 1


@pytest.mark.parametrize(
    ("operator", "action", "body"),
    [
        ("ana", "decision", {"decision": "acknowledged"}),
        ("ben", "decision", {"decision": "objected", "reason": "We changed our minds"}),
        ("ana", "receipt", None),
        ("ben", "receipt", None),
        ("carla", "cancellation", {"reason": "We would rather it did not happen"}),
        ("dev", "cancellation", None),
    ],
)
async def test_a_party_cannot_answer_its_own_notice_nor_cancel_the_others(
    api: Api, operator: str, action: str, body: dict[str, Any] | None
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = await notice(api, notice_id)

    response = await api.act(operator, notice_id, action, body)

    assert_problem(response, 403, "forbidden")
    assert await notice(api, notice_id) == before
    assert len(await api.log()) == 1


# -- roles ---------------------------------------------------------------------------------


@pytest.fixture
async def readers(api: Api, db: Database) -> None:
    """An observer and an admin on each side: olga and adam (water), rosa and rick (roads)."""
    for operator, party, role in [
        ("olga", "water", Role.OBSERVER),
        ("adam", "water", Role.ADMIN),
        ("rosa", "roads", Role.OBSERVER),
        ("rick", "roads", Role.ADMIN),
    ]:
        await add_operator(api, db, operator, party, role)


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["olga", "adam"])
async def test_observers_and_admins_cannot_send(api: Api, operator: str) -> None:
    response = await api.send(operator)

    assert_problem(response, 403, "forbidden")
    assert await api.log() == []
    listing = await api.get("ana", f"{WATER_ROADS}/notices")
    assert listing.json()["items"] == []


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["rosa", "rick"])
@pytest.mark.parametrize(
    "body",
    [{"decision": "acknowledged"}, {"decision": "objected", "reason": "Crew booked"}],
    ids=["acknowledge", "object"],
)
async def test_observers_and_admins_of_the_receiving_party_cannot_decide(
    api: Api, operator: str, body: dict[str, Any]
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = await notice(api, notice_id)

    response = await api.act(operator, notice_id, "decision", body)

    assert_problem(response, 403, "forbidden")
    assert await notice(api, notice_id) == before
    assert len(await api.log()) == 1


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["olga", "adam"])
async def test_observers_and_admins_of_the_sending_party_cannot_cancel(
    api: Api, operator: str
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = await notice(api, notice_id)

    response = await api.act(operator, notice_id, "cancellation", {"reason": "Postponed"})

    assert_problem(response, 403, "forbidden")
    assert await notice(api, notice_id) == before
    assert len(await api.log()) == 1


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["olga", "adam", "rosa", "rick"])
async def test_observers_and_admins_can_read_everything_of_their_channel(
    api: Api, operator: str
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    me = await api.get(operator, "/api/v1/me")
    channels = await api.get(operator, "/api/v1/channels")
    channel = await api.get(operator, WATER_ROADS)
    listing = await api.get(operator, f"{WATER_ROADS}/notices")
    detail = await api.get(operator, f"{WATER_ROADS}/notices/{notice_id}")
    log = await api.log(operator)

    assert me.json()["operator"]["id"] == operator
    assert me.json()["role"] in {"observer", "admin"}
    assert [c["id"] for c in channels.json()] == ["water-roads"]
    assert channel.json()["head"] == 3
    assert [n["id"] for n in listing.json()["items"]] == [notice_id]
    assert detail.json()["status"] == "acknowledged"
    assert [e["type"] for e in log] == ["notice.sent", "notice.received", "notice.acknowledged"]


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["rosa", "rick"])
async def test_any_role_of_the_receiving_party_may_confirm_receipt(api: Api, operator: str) -> None:
    # The rules: a receipt says the party's client has the notice, whatever its role.
    notice_id = (await api.send("ana")).json()["id"]

    response = await api.act(operator, notice_id, "receipt")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "delivered"
    assert response.json()["receipt"]["operator"] == operator
    assert response.json()["decision"] is None
    log = await api.log()
    assert [e["type"] for e in log] == ["notice.sent", "notice.received"]
    assert log[-1]["actor"] == {"party": "roads", "operator": operator}


@pytest.mark.usefixtures("readers")
@pytest.mark.parametrize("operator", ["olga", "adam"])
async def test_no_role_of_the_sending_party_may_confirm_receipt(api: Api, operator: str) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = await notice(api, notice_id)

    response = await api.act(operator, notice_id, "receipt")

    assert_problem(response, 403, "forbidden")
    assert await notice(api, notice_id) == before
    assert len(await api.log()) == 1


# -- acknowledged once, sent once ----------------------------------------------------------


async def test_acknowledging_twice_is_refused_with_the_first_decision(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    first = await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    again = await api.act("carla", notice_id, "decision", {"decision": "acknowledged"})

    problem = assert_problem(again, 409, "already-decided")
    assert problem["decision"] == first.json()["decision"]
    assert (await notice(api, notice_id))["decision"] == first.json()["decision"]
    assert len(await api.log()) == 3


async def test_of_concurrent_decisions_exactly_one_stands(api: Api) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    bodies = [
        {"decision": "acknowledged"} if n % 2 else {"decision": "objected", "reason": f"No {n}"}
        for n in range(10)
    ]

    responses = await asyncio.gather(
        *(
            api.act(("carla", "dev")[n % 2], notice_id, "decision", body)
            for n, body in enumerate(bodies)
        )
    )

    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    standing = winners[0].json()["decision"]
    for response in responses:
        if response is not winners[0]:
            assert assert_problem(response, 409, "already-decided")["decision"] == standing
    assert (await notice(api, notice_id))["decision"] == standing
    log = await api.log()
    assert [e["type"] for e in log] == [
        "notice.sent",
        "notice.received",
        f"notice.{standing['decision']}",
    ]
    assert log[-1]["actor"]["operator"] == standing["operator"]


async def test_concurrent_duplicate_sends_store_one_notice(api: Api) -> None:
    notice_id = str(uuid.uuid4())

    responses = await asyncio.gather(
        *(
            api.send(("ana", "ben")[n % 2], id=notice_id, subject="Hydrant test", body="9-11")
            for n in range(10)
        )
    )

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.text for r in responses}) == 1, "every answer is the original"
    log = await api.log()
    assert [(e["type"], e["data"]["notice"]) for e in log] == [("notice.sent", notice_id)]
    listing = await api.get("carla", f"{WATER_ROADS}/notices")
    assert [n["id"] for n in listing.json()["items"]] == [notice_id]
