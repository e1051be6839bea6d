"""Every error becomes an RFC 9457 problem in one place: ``server/api/problems.py``.

A tiny app with the problem handlers installed raises each kind of error; no database and
no network are involved (httpx talks to the app in process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from client.protocol import schemas
from server.api import problems
from server.api.middleware import RequestContext
from server.domain import errors
from tests.unit.builders import NOTICE_ID, notice_in

DECIDED = notice_in("objected")
assert DECIDED is not None

REFUSALS: dict[str, errors.Refusal] = {
    "not-found": errors.NotFound("no notice here", notice_id=NOTICE_ID),
    "forbidden": errors.Forbidden("an observer may not send notices"),
    "conflict": errors.Conflict("party water exists already"),
    "notice-id-conflict": errors.IdempotencyConflict("id used", notice_id=NOTICE_ID),
    "already-decided": errors.AlreadyDecided("already objected", notice=DECIDED),
    "notice-closed": errors.NoticeClosed("cancelled", notice_id=NOTICE_ID),
    "proposal-closed": errors.ProposalClosed("proposal lapsed at 2026-12-01T09:00:00.000Z"),
    "check-closed": errors.CheckClosed("check had to be answered by 2026-12-01T09:05:00.000Z"),
    "invalid": errors.Invalid("an objection needs a reason", field="reason"),
    "refused": errors.Refusal("no"),
}


def build_app(max_body_bytes: int = 1024) -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.add_middleware(RequestContext, max_body_bytes=max_body_bytes)

    @app.get("/refuse/{code}")
    async def refuse(code: str) -> None:
        raise REFUSALS[code]

    @app.get("/anonymous")
    async def anonymous() -> None:
        raise problems.Unauthenticated

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret connection string postgresql://admin:hunter2@db")

    @app.post("/decide")
    async def decide(request: schemas.DecisionRequest) -> dict[str, str]:
        return {"decision": request.decision}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # The app's own 500 response is what is under test, not the exception behind it.
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield client


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    schemas.Problem.model_validate(body)
    assert body["type"] == f"urn:hotline:problem:{code}"
    assert body["code"] == code
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    return body


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("not-found", 404),
        ("forbidden", 403),
        ("conflict", 409),
        ("notice-id-conflict", 409),
        ("already-decided", 409),
        ("notice-closed", 409),
        ("proposal-closed", 409),
        ("check-closed", 409),
        ("invalid", 422),
        ("refused", 400),
    ],
)
async def test_each_kind_of_refusal_has_its_status_and_code(
    client: httpx.AsyncClient, code: str, status: int
) -> None:
    body = problem_of(await client.get(f"/refuse/{code}"), status, code)

    assert body["detail"] == REFUSALS[code].message
    assert body["title"]


async def test_a_second_decision_carries_the_first(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/refuse/already-decided"), 409, "already-decided")

    assert body["decision"] == {
        "decision": "objected",
        "reason": DECIDED.reason,
        "at": body["decision"]["at"],
        "operator": DECIDED.decided_by,
    }


async def test_an_invalid_command_names_the_field(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/refuse/invalid"), 422, "invalid")

    assert body["errors"] == [{"field": "reason", "message": "an objection needs a reason"}]


async def test_problems_leave_out_the_extensions_they_do_not_use(
    client: httpx.AsyncClient,
) -> None:
    body = problem_of(await client.get("/refuse/not-found"), 404, "not-found")

    assert set(body) == {"type", "title", "status", "detail", "instance", "code"}


async def test_a_missing_token_asks_for_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/anonymous")

    problem_of(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_crash_is_a_problem_that_reveals_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/crash")

    body = problem_of(response, 500, "internal-error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"].startswith("the server failed")


async def test_a_request_that_breaks_the_schema_does_not_echo_its_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/decide", json={"decision": "hl_not_really_a_secret_but_do_not_echo", "pin": "4711"}
    )

    body = problem_of(response, 422, "invalid-request")
    assert sorted(e["field"] for e in body["errors"]) == ["body.decision", "body.pin"]
    assert "hl_not_really" not in response.text
    assert "4711" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not-found"),
        ("DELETE", "/decide", 405, "method-not-allowed"),
    ],
)
async def test_http_errors_are_problems_too(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    problem_of(await client.request(method, path), status, code)


async def test_a_body_that_is_not_text_is_an_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/decide", content=b'{"decision": "\xff"}', headers={"content-type": "application/json"}
    )

    body = problem_of(response, 422, "invalid-request")
    assert body["errors"] == [
        {"field": "body", "message": "not UTF-8: JSON is UTF-8 text (RFC 8259)"}
    ]


async def test_a_body_nested_deeper_than_the_parser_reads_is_an_invalid_request() -> None:
    # Arrays in arrays past Python's recursion limit: FastAPI answered 400, which the
    # document does not have; no request of the API is nested more than a few levels.
    transport = httpx.ASGITransport(app=build_app(max_body_bytes=65_536))
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        response = await client.post(
            "/decide", content=b"[" * 50_000, headers={"content-type": "application/json"}
        )

    body = problem_of(response, 422, "invalid-request")
    assert body["errors"] == [
        {
            "field": "body",
            "message": "nested too deeply to read: no request of this API is nested so deep",
        }
    ]


async def test_an_oversized_body_is_content_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post("/decide", json={"decision": "acknowledged", "x": "y" * 2000})

    body = problem_of(response, 413, "content-too-large")
    assert body["detail"] == "request bodies are limited to 1024 bytes"
    assert response.headers["x-request-id"]


def test_the_document_declares_problems_only_as_problem_json() -> None:
    document = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {}}}},
                        "404": {
                            "content": {
                                "application/json": {"schema": {}},
                                "application/problem+json": {"schema": {}},
                            }
                        },
                    }
                }
            }
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}, "P": {}}},
    }

    problems.document_problems(document)

    responses = document["paths"]["/x"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["application/json"]
    assert list(responses["404"]["content"]) == ["application/problem+json"]
    assert document["components"] == {"schemas": {"P": {}}}


def test_the_webhook_calls_keep_no_validation_error_of_fastapi() -> None:
    """A webhook call is answered by the subscriber, never with FastAPI's 422 schema.

    Without this the ``webhooks`` section kept a ``$ref`` to a schema the function drops:
    a link to nowhere in the REST reference.
    """
    error = {"$ref": "#/components/schemas/HTTPValidationError"}
    document: dict[str, Any] = {
        "webhooks": {
            "channel-event": {
                "post": {
                    "responses": {
                        "204": {"description": "Accepted."},
                        "422": {"content": {"application/json": {"schema": error}}},
                    }
                }
            }
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}}},
    }

    problems.document_problems(document)

    assert list(document["webhooks"]["channel-event"]["post"]["responses"]) == ["204"]
    assert "HTTPValidationError" not in str(document)
