"""Malformed input gets a clear 4xx problem, and nothing is stored (guarantee 9).

Two codes tell a client what kind of mistake it made: ``invalid-request`` when the request
does not match the API's schema (its ``errors[].field`` is the place in the request, such
as ``body.subject``), and ``invalid`` when the domain refuses well-formed content (its
field is the notice's, such as ``activity``).

Where many inputs show one behaviour they are subtests of one test: each is reported on
its own, and the database is made once for all of them.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Api

CHANNEL = "/api/v1/channels/water-roads"
NOTICES = f"{CHANNEL}/notices"


def assert_refused(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is a problem with this status and code, naming ``field`` if given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:hotline:problem:{code}"
    assert problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem
    return problem


async def assert_nothing_stored(api: Api, log_length: int = 0) -> None:
    """The log holds ``log_length`` events, and no notice beyond what they sent."""
    log = await api.log()
    assert len(log) == log_length
    listing = await api.get("carla", NOTICES)
    sent = [e["data"]["notice"] for e in log if e["type"] == "notice.sent"]
    assert sorted(n["id"] for n in listing.json()["items"]) == sorted(sent)


def window(start: timedelta, length: timedelta) -> dict[str, str]:
    """An activity window starting ``start`` from now and lasting ``length``."""
    starts = datetime.now(UTC) + start
    return {"starts_at": starts.isoformat(), "ends_at": (starts + length).isoformat()}


def draft(**fields: Any) -> dict[str, Any]:
    """A valid notice with ``fields`` changed; a field given as ``...`` is left out."""
    body = {"id": str(uuid.uuid4()), "subject": "Water main renewal, Mill Lane", **fields}
    return {key: value for key, value in body.items() if value is not ...}


# -- sending -------------------------------------------------------------------------------

LATER = window(timedelta(days=10), timedelta(days=1))

SCHEMA_MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "empty subject": ({"subject": ""}, "body.subject"),
    "blank subject": ({"subject": " \t "}, "body.subject"),
    "subject of 201 characters": ({"subject": "x" * 201}, "body.subject"),
    "no subject": ({"subject": ...}, "body.subject"),
    "subject not text": ({"subject": 42}, "body.subject"),
    "body of 10,001 characters": ({"body": "x" * 10_001}, "body.body"),
    "id not a UUID": ({"id": "not-a-uuid"}, "body.id"),
    "no id": ({"id": ...}, "body.id"),
    "unknown priority": ({"priority": "critical"}, "body.priority"),
    "empty area": ({"area": ""}, "body.area"),
    "area of 201 characters": ({"area": "x" * 201}, "body.area"),
    "ack_required not a boolean": ({"ack_required": "maybe"}, "body.ack_required"),
    "refers_to not a UUID": ({"refers_to": "earlier"}, "body.refers_to"),
    "unknown field": ({"sender": "water"}, "body.sender"),
    "unknown field in activity": (
        {"activity": {**LATER, "where": "Mill Lane"}},
        "body.activity.where",
    ),
    "activity without end": (
        {"activity": {"starts_at": LATER["starts_at"]}},
        "body.activity.ends_at",
    ),
    "naive activity start": (
        {"activity": {**LATER, "starts_at": "2026-12-07T07:00:00"}},
        "body.activity.starts_at",
    ),
    "naive activity end": (
        {"activity": {**LATER, "ends_at": "2026-12-11T17:00:00"}},
        "body.activity.ends_at",
    ),
    "activity start not a time": (
        {"activity": {**LATER, "starts_at": "next monday"}},
        "body.activity.starts_at",
    ),
    "naive client_time": ({"client_time": "2026-11-21T09:30:00"}, "body.client_time"),
    "blank area": ({"area": "   "}, "body.area"),
    "NUL in the subject": ({"subject": "Hydrant\x00test"}, "body.subject"),
    "line break in the subject": ({"subject": "Hydrant\ntest"}, "body.subject"),
    "terminal escape in the body": ({"body": "Works \x1b[2J"}, "body.body"),
    "client time out of range": ({"client_time": "9999-12-31T23:00:00-10:00"}, "body.client_time"),
}


async def test_a_notice_that_breaks_the_schema_is_refused_and_not_stored(
    api: Api, subtests: pytest.Subtests
) -> None:
    for case, (fields, field) in SCHEMA_MISTAKES.items():
        with subtests.test(case):
            response = await api.post("ana", NOTICES, draft(**fields))

            assert_refused(response, 422, "invalid-request", field)
            await assert_nothing_stored(api)


DOMAIN_MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "activity ends before it starts": (
        {"activity": window(timedelta(days=10), -timedelta(hours=1))},
        "activity",
    ),
    "activity ends as it starts": (
        {"activity": window(timedelta(days=10), timedelta(0))},
        "activity",
    ),
    "routine works too soon": (
        {"activity": window(timedelta(days=1), timedelta(hours=4))},
        "activity",
    ),
    "important works too soon": (
        {"priority": "important", "activity": window(timedelta(hours=1), timedelta(hours=4))},
        "activity",
    ),
    "refers_to an unknown notice": ({"refers_to": str(uuid.uuid4())}, "refers_to"),
}


async def test_a_notice_the_rules_refuse_is_not_stored(api: Api, subtests: pytest.Subtests) -> None:
    for case, (fields, field) in DOMAIN_MISTAKES.items():
        with subtests.test(case):
            response = await api.post("ana", NOTICES, draft(**fields))

            assert_refused(response, 422, "invalid", field)
            await assert_nothing_stored(api)


async def test_urgent_works_may_start_at_once_or_be_already_under_way(api: Api) -> None:
    now = await api.send("ana", priority="urgent", activity=window(timedelta(0), timedelta(1)))
    begun = await api.send(
        "ana", priority="urgent", activity=window(-timedelta(minutes=30), timedelta(hours=2))
    )

    assert now.status_code == 201, now.text
    assert begun.status_code == 201, begun.text
    await assert_nothing_stored(api, log_length=2)


async def test_routine_works_announced_in_good_time_are_accepted(api: Api) -> None:
    response = await api.send("ana", activity=window(timedelta(days=3), timedelta(hours=8)))

    assert response.status_code == 201, response.text


NOT_AN_OBJECT: dict[str, tuple[bytes, str, str]] = {
    "truncated JSON": (b'{"id": ', "application/json", "body.7"),
    "not JSON": (b"subject=Hydrant", "application/json", "body.0"),
    "plain text": (b"subject: Hydrant", "text/plain", "body"),
    "JSON array": (b'[{"subject": "Hydrant"}]', "application/json", "body"),
    "JSON string": (b'"Hydrant test"', "application/json", "body"),
    "JSON null": (b"null", "application/json", "body"),
}


async def test_a_body_that_is_not_a_json_object_is_refused(
    api: Api, subtests: pytest.Subtests
) -> None:
    for case, (content, content_type, field) in NOT_AN_OBJECT.items():
        with subtests.test(case):
            response = await api.client.post(
                NOTICES, content=content, headers={**api.auth("ana"), "content-type": content_type}
            )

            assert_refused(response, 422, "invalid-request", field)
            await assert_nothing_stored(api)


# -- deciding and cancelling ---------------------------------------------------------------

BAD_DECISIONS: dict[str, tuple[Any, str, str]] = {
    "unknown decision": ({"decision": "maybe"}, "invalid-request", "body.decision"),
    "no decision": ({}, "invalid-request", "body.decision"),
    "objection without reason": ({"decision": "objected"}, "invalid", "reason"),
    "objection with blank reason": ({"decision": "objected", "reason": "  "}, "invalid", "reason"),
    "reason of 2,001 characters": (
        {"decision": "objected", "reason": "x" * 2_001},
        "invalid-request",
        "body.reason",
    ),
    "unknown field": ({"decision": "acknowledged", "by": "carla"}, "invalid-request", "body.by"),
    "naive client_time": (
        {"decision": "acknowledged", "client_time": "2026-11-21T09:30:00"},
        "invalid-request",
        "body.client_time",
    ),
    "JSON array": (["acknowledged"], "invalid-request", "body"),
}


async def test_a_malformed_decision_is_refused_and_changes_nothing(
    api: Api, subtests: pytest.Subtests
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = (await api.get("ana", f"{NOTICES}/{notice_id}")).json()

    for case, (body, code, field) in BAD_DECISIONS.items():
        with subtests.test(case):
            response = await api.act("carla", notice_id, "decision", body)

            assert_refused(response, 422, code, field)
            assert (await api.get("ana", f"{NOTICES}/{notice_id}")).json() == before
            await assert_nothing_stored(api, log_length=1)


BAD_CANCELLATIONS: dict[str, tuple[Any, str]] = {
    "reason of 2,001 characters": ({"reason": "x" * 2_001}, "body.reason"),
    "unknown field": ({"reason": "Postponed", "when": "now"}, "body.when"),
    "reason not text": ({"reason": 7}, "body.reason"),
}


async def test_a_malformed_cancellation_is_refused_and_changes_nothing(
    api: Api, subtests: pytest.Subtests
) -> None:
    notice_id = (await api.send("ana")).json()["id"]
    before = (await api.get("ana", f"{NOTICES}/{notice_id}")).json()

    for case, (body, field) in BAD_CANCELLATIONS.items():
        with subtests.test(case):
            response = await api.act("ben", notice_id, "cancellation", body)

            assert_refused(response, 422, "invalid-request", field)
            assert (await api.get("ana", f"{NOTICES}/{notice_id}")).json() == before
            await assert_nothing_stored(api, log_length=1)


# -- size ----------------------------------------------------------------------------------


async def test_a_body_over_64_kib_is_refused_as_too_large(api: Api) -> None:
    response = await api.post("ana", NOTICES, draft(body="x" * 70_000))

    assert_refused(response, 413, "content-too-large")
    await assert_nothing_stored(api)


async def test_a_streamed_body_over_64_kib_is_refused_as_too_large(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "%s", "subject": "Hydrant", "body": "' % str(uuid.uuid4()).encode()
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    response = await api.client.post(
        NOTICES,
        content=chunks(),
        headers={**api.auth("ana"), "content-type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_refused(response, 413, "content-too-large")
    await assert_nothing_stored(api)


async def test_a_body_that_announces_more_than_64_kib_is_refused_unread(api: Api) -> None:
    response = await api.client.post(
        NOTICES,
        content=b"{}",
        headers={**api.auth("ana"), "content-type": "application/json", "content-length": "70000"},
    )

    assert_refused(response, 413, "content-too-large")
    await assert_nothing_stored(api)


async def test_a_body_within_the_limit_is_accepted_even_when_long(api: Api) -> None:
    # 10,000 characters that JSON spells as six bytes each: 60 kB, just under the cap.
    response = await api.post("ana", NOTICES, draft(body="\u00e9" * 10_000))

    assert response.status_code == 201, response.text
    await assert_nothing_stored(api, log_length=1)


# -- reading -------------------------------------------------------------------------------


def _cursor(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


FOREIGN_CURSORS = {
    "garbage": "not-a-cursor!",
    "wrong prefix": _cursor(b"after:3"),
    "negative": _cursor(b"before:-3"),
    "not UTF-8": _cursor(b"before:\xff"),
    "not ASCII": "\u00e9t\u00e9",
}


async def test_a_cursor_this_server_did_not_give_out_is_refused(
    api: Api, subtests: pytest.Subtests
) -> None:
    await api.send("ana")

    for case, cursor in FOREIGN_CURSORS.items():
        with subtests.test(case):
            response = await api.get("carla", NOTICES, params={"cursor": cursor})

            assert_refused(response, 422, "invalid", "cursor")
    await assert_nothing_stored(api, log_length=1)


async def test_a_cursor_with_an_absurd_sequence_number_is_refused(api: Api) -> None:
    cursor = _cursor(b"before:99999999999999999999")

    response = await api.get("carla", NOTICES, params={"cursor": cursor})

    assert_refused(response, 422, "invalid", "cursor")


MALFORMED_QUERIES: dict[str, tuple[str, dict[str, Any], str]] = {
    "notices limit 0": (NOTICES, {"limit": 0}, "query.limit"),
    "notices limit 201": (NOTICES, {"limit": 201}, "query.limit"),
    "notices limit not a number": (NOTICES, {"limit": "ten"}, "query.limit"),
    "unknown status": (NOTICES, {"status": "lost"}, "query.status"),
    "unknown priority": (NOTICES, {"priority": "critical"}, "query.priority"),
    "awaiting_decision not a boolean": (
        NOTICES,
        {"awaiting_decision": "perhaps"},
        "query.awaiting_decision",
    ),
    "events limit 0": (f"{CHANNEL}/events", {"limit": 0}, "query.limit"),
    "events limit 1001": (f"{CHANNEL}/events", {"limit": 1001}, "query.limit"),
    "events after -1": (f"{CHANNEL}/events", {"after": -1}, "query.after"),
    "notice id not a UUID": (f"{NOTICES}/not-a-uuid", {}, "path.notice_id"),
}


async def test_a_malformed_query_is_refused(api: Api, subtests: pytest.Subtests) -> None:
    for case, (path, params, field) in MALFORMED_QUERIES.items():
        with subtests.test(case):
            response = await api.get("carla", path, params=params)

            assert_refused(response, 422, "invalid-request", field)


@pytest.mark.parametrize("after", [2**31, 2**63], ids=["past-int32", "past-int64"])
async def test_reading_the_log_after_an_absurd_sequence_number_is_refused(
    api: Api, after: int
) -> None:
    response = await api.get("carla", f"{CHANNEL}/events", params={"after": after})

    assert_refused(response, 422, "invalid-request", "query.after")


async def test_a_well_formed_but_unknown_notice_id_is_not_found(
    api: Api, subtests: pytest.Subtests
) -> None:
    await api.send("ana")
    unknown = f"{NOTICES}/{uuid.uuid4()}"

    for method, action, body in [
        ("GET", "", None),
        ("POST", "/receipt", None),
        ("POST", "/decision", {"decision": "acknowledged"}),
        ("POST", "/cancellation", {"reason": "Postponed"}),
    ]:
        for operator in ("ana", "carla"):
            with subtests.test(f"{method} {action or '/'} by {operator}"):
                response = await api.client.request(
                    method, unknown + action, headers=api.auth(operator), json=body
                )

                assert_refused(response, 404, "not-found")
    await assert_nothing_stored(api, log_length=1)


async def test_an_unknown_route_is_a_not_found_problem(api: Api, subtests: pytest.Subtests) -> None:
    for path in [
        "/api/v1/nothing-here",
        "/api/v2/channels",
        f"{NOTICES}/{uuid.uuid4()}/x",
        "/nowhere",
    ]:
        with subtests.test(path):
            response = await api.post("ana", path, {"subject": "Hydrant test"})

            assert_refused(response, 404, "not-found")
    await assert_nothing_stored(api)


async def test_a_wrong_method_is_a_method_not_allowed_problem(
    api: Api, subtests: pytest.Subtests
) -> None:
    for method, path, allowed in [
        ("PUT", f"{NOTICES}/{uuid.uuid4()}", {"GET"}),
        ("GET", f"{NOTICES}/{uuid.uuid4()}/decision", {"POST"}),
        ("PATCH", CHANNEL, {"GET"}),
        ("DELETE", NOTICES, None),
    ]:
        with subtests.test(f"{method} {path}"):
            response = await api.client.request(method, path, headers=api.auth("ana"))

            assert_refused(response, 405, "method-not-allowed")
            if allowed is not None:
                assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    await assert_nothing_stored(api)


async def test_a_method_not_allowed_names_every_method_the_path_allows(api: Api) -> None:
    response = await api.client.request("DELETE", NOTICES, headers=api.auth("ana"))

    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST"}


async def test_an_id_with_control_characters_in_the_path_is_refused_not_looked_up(
    api: Api,
) -> None:
    response = await api.get("ana", "/api/v1/channels/wa%00ter/notices")

    assert_refused(response, 422, "invalid-request", "path.channel_id")
