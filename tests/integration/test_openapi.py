"""The OpenAPI document is complete enough to read and to generate a client from.

The reference docs are generated from it (STYLE.md, rule 13), so a missing summary or
description is a hole in the documentation, and a wrong media type misleads every
generated client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from client.protocol import schemas
from tests.integration.conftest import Api

Document = dict[str, Any]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
async def openapi(api: Api) -> Document:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document: Document = response.json()
    return document


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def component(document: Document, schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The component a request body's schema refers to, through an optional ``anyOf``."""
    refs = [schema, *schema.get("anyOf", [])]
    [ref] = [s["$ref"] for s in refs if "$ref" in s]
    name = ref.removeprefix("#/components/schemas/")
    found: dict[str, Any] = document["components"]["schemas"][name]
    return name, found


def test_the_document_is_served_as_openapi_3(openapi: Document) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"] == "Hotline"
    assert list(operations(openapi)), "the document lists the API's operations"


def test_every_operation_has_a_summary_and_a_description(openapi: Document) -> None:
    without_summary = [(m, p) for m, p, op in operations(openapi) if not op.get("summary")]
    without_description = [
        (m, p) for m, p, op in operations(openapi) if not op.get("description", "").strip()
    ]

    assert without_summary == []
    assert without_description == []


def test_every_property_of_every_schema_has_a_description(openapi: Document) -> None:
    missing = [
        f"{name}.{prop}"
        for name, schema in openapi["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description", "").strip()
    ]

    assert missing == []


def test_every_parameter_has_a_description(openapi: Document) -> None:
    missing = [
        f"{method} {path} {parameter['name']}"
        for method, path, operation in operations(openapi)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description", "").strip()
    ]

    assert missing == []


def test_every_request_body_has_examples_that_the_api_would_accept(openapi: Document) -> None:
    bodies = {
        f"{method} {path}": operation["requestBody"]
        for method, path, operation in operations(openapi)
        # A file upload's body is the file (tests/integration/test_attachments.py).
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    models: dict[str, type[BaseModel]] = {
        "NoticeDraft": schemas.NoticeDraft,
        "DecisionRequest": schemas.DecisionRequest,
        "CancelRequest": schemas.CancelRequest,
        "KeyRegistration": schemas.KeyRegistration,
        "ProposalRequest": schemas.ProposalRequest,
        "EmailAddress": schemas.EmailAddress,
        "WebhookRequest": schemas.WebhookRequest,
        "WebhookChange": schemas.WebhookChange,
        "RotateRequest": schemas.RotateRequest,
    }

    named = {}
    for where, body in bodies.items():
        name, schema = component(openapi, body["content"]["application/json"]["schema"])
        named[name] = where
        assert schema.get("examples"), f"{where}: {name} has no examples"
        for example in schema["examples"]:
            models[name].model_validate(example)  # raises if an example is not a valid request
    assert set(named) == set(models)


def test_every_post_operation_with_a_body_declares_it_as_json(openapi: Document) -> None:
    bodiless = set()
    for method, path, operation in operations(openapi):
        if method != "POST":
            continue
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], path
        else:
            bodiless.add(path.rsplit("/", 1)[-1])

    assert bodiless == {"receipt", "accept", "withdraw", "answer"}, "acts that say it all"


def test_problem_responses_are_declared_only_as_problem_json(openapi: Document) -> None:
    problems = [
        (f"{method} {path} {status}", response)
        for method, path, operation in operations(openapi)
        for status, response in operation["responses"].items()
        if status.startswith("4")
    ]

    assert problems, "the API declares its error responses"
    for where, response in problems:
        assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, where


def test_every_operation_that_needs_a_token_declares_401_and_bearer_auth(
    openapi: Document,
) -> None:
    schemes = openapi["components"]["securitySchemes"]
    for method, path, operation in operations(openapi):
        if not path.startswith("/api/v1/"):
            continue
        assert "401" in operation["responses"], f"{method} {path}"
        [requirement] = operation["security"]
        [scheme] = requirement
        assert schemes[scheme] == {
            "type": "http",
            "scheme": "bearer",
            "description": schemes[scheme]["description"],
        }


def test_the_problem_schema_has_the_rfc_9457_members(openapi: Document) -> None:
    problem = openapi["components"]["schemas"]["Problem"]

    assert {"type", "title", "status", "detail", "instance"} <= set(problem["properties"])
    assert {"code", "errors", "decision"} <= set(problem["properties"])
    assert "HTTPValidationError" not in openapi["components"]["schemas"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/channels/{channel_id}/notices", "/api/v1/channels/{channel_id}/policy/proposals"],
)
def test_a_repeated_create_is_declared_to_return_the_original(openapi: Document, path: str) -> None:
    responses = openapi["paths"][path]["post"]["responses"]

    assert responses["200"].get("content") == responses["201"]["content"]


def test_the_operations_of_the_policy_checks_and_conflicts_are_documented(
    openapi: Document,
) -> None:
    channel = "/api/v1/channels/{channel_id}"
    expected = {
        ("GET", f"{channel}/policy"): {"401", "404", "422"},
        ("POST", f"{channel}/policy/proposals"): {"401", "403", "404", "409", "422"},
        ("POST", f"{channel}/policy/proposals/{{proposal_id}}/accept"): {
            "401", "403", "404", "409", "422",
        },
        ("POST", f"{channel}/policy/proposals/{{proposal_id}}/withdraw"): {
            "401", "403", "404", "409", "422",
        },
        ("GET", f"{channel}/checks"): {"401", "404", "422"},
        ("POST", f"{channel}/checks/{{check_id}}/answer"): {"401", "403", "404", "409", "422"},
        ("GET", f"{channel}/availability"): {"401", "404", "422"},
        ("GET", f"{channel}/conflicts"): {"401", "404", "422"},
    }  # fmt: skip
    found = {(method, path): operation for method, path, operation in operations(openapi)}

    for key, problems in expected.items():
        assert key in found, key
        declared = {status for status in found[key]["responses"] if status.startswith("4")}
        assert declared == problems, key
