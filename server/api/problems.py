"""Every error the API returns, as RFC 9457 problem details, decided in this one place.

A refusal from the domain, a request that does not parse, a missing token, an unknown
route: each becomes ``application/problem+json`` with a stable ``code`` (also the last
part of ``type``) that clients can switch on. The table of codes is in
docs/reference/errors.md.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from client.protocol import schemas
from server.domain import errors
from server.domain.model import Notice

__all__ = [
    "PROBLEM_JSON",
    "STATUS",
    "Unauthenticated",
    "document_problems",
    "install",
    "problem",
    "refusal_extensions",
    "refusal_status",
    "responses",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

STATUS: dict[type[errors.Refusal], int] = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.Invalid: 422,
    errors.TooLarge: 413,
    errors.UnsupportedType: 415,
}
"""HTTP status of each kind of refusal; subclasses take their parent's.

So ``ProposalClosed`` (a policy proposal that waits no more) and ``CheckClosed`` (a check
answered after its window) are 409 conflicts, each with its own ``code``.
"""


class Unauthenticated(Exception):
    """No bearer token, or one that is unknown or revoked."""


_HTTP_CODES = {413: "content-too-large"}  # RFC 9110's name, newer than Python 3.11's


def _type_uri(code: str) -> str:
    return f"urn:hotline:problem:{code}"


def problem(
    status: int, code: str, detail: str, *, instance: str | None = None, **extensions: Any
) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": _type_uri(code),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **{key: value for key, value in extensions.items() if value is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def refusal_status(refusal: errors.Refusal) -> int:
    """The HTTP status of a refusal (the WebSocket's error messages carry it too)."""
    for kind in type(refusal).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def refusal_extensions(refusal: errors.Refusal) -> dict[str, Any]:
    """The problem's extra members for a refusal: field errors, or the first decision."""
    extensions: dict[str, Any] = {}
    if isinstance(refusal, errors.AlreadyDecided):
        extensions["decision"] = _first_decision(refusal.notice)
    if isinstance(refusal, errors.Invalid):
        extensions["errors"] = [{"field": refusal.field, "message": refusal.message}]
    return extensions


def _first_decision(notice: Notice) -> dict[str, Any]:
    assert notice.decision is not None
    assert notice.decided_at is not None
    return schemas.DecisionRecord(
        decision=notice.decision,
        reason=notice.reason,
        at=notice.decided_at,
        operator=notice.decided_by or "",
    ).model_dump(mode="json")


async def _on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.Refusal)
    return problem(
        refusal_status(exc),
        exc.code,
        exc.message,
        instance=request.url.path,
        **refusal_extensions(exc),
    )


async def _on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be large, or something secret.
    found = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    return problem(
        422,
        "invalid-request",
        "the request does not match the API's schema",
        instance=request.url.path,
        errors=found,
    )


_UNREADABLE = {
    UnicodeDecodeError: "not UTF-8: JSON is UTF-8 text (RFC 8259)",
    RecursionError: "nested too deeply to read: no request of this API is nested so deep",
}
"""Why FastAPI could not read a body as JSON, for each error it answers 400 to."""


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and type(exc.__cause__) in _UNREADABLE:
        # FastAPI's 400 for a body it could not read (not text, or arrays in arrays past
        # the parser's depth): as malformed as one that is not JSON, which is a 422 like
        # every other request that does not match the schema, and a status the document has.
        return problem(
            422,
            "invalid-request",
            "the request does not match the API's schema",
            instance=request.url.path,
            errors=[{"field": "body", "message": _UNREADABLE[type(exc.__cause__)]}],
        )
    code = _HTTP_CODES.get(exc.status_code) or HTTPStatus(exc.status_code).phrase.lower().replace(
        " ", "-"
    )
    response = problem(exc.status_code, code, str(exc.detail), instance=request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405 and (documented := _methods_at(request)):
        # Starlette names only the first route on the path; RFC 9110 wants them all. Paths
        # the document leaves out (the static files) keep the Allow their route gave.
        response.headers["Allow"] = ", ".join(sorted(documented))
    return response


def _methods_at(request: Request) -> set[str]:
    # The OpenAPI document lists every operation by path template; routers' internals vary.
    allowed: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            allowed |= {method.upper() for method in operations}
    return allowed


async def _on_unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    response = problem(
        401, "unauthenticated", "a valid bearer token is required", instance=request.url.path
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return problem(
        500,
        "internal-error",
        "the server failed; the request id in the logs says where",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""
    app.add_exception_handler(errors.Refusal, _on_refusal)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Unauthenticated, _on_unauthenticated)
    app.add_exception_handler(Exception, _on_crash)


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the problem statuses a route can return.

    Every route that says so can also answer ``401`` (no valid token) and ``503`` (the
    database cannot be reached just now, ``server/api/unavailable.py``; or too many
    connections, ``server/http_protocol.py``).
    """
    described = {
        401: "No valid bearer token.",
        403: "The caller's role or party may not do this.",
        404: "Not found, or not visible to the caller's party.",
        409: "Conflicts with what the log already holds.",
        413: "The request body is larger than the server accepts.",
        415: "The body's media type is not one the server accepts here.",
        422: "The request is malformed or breaks the channel policy.",
        500: "The server failed; the request id in its logs says where.",
        503: "Not just now: the database cannot be reached (`database-unavailable`), or the "
        "server holds all the connections it takes (`too-many-connections`). Send the "
        "request again after `Retry-After`, with the same ids.",
    }
    return {
        status: {
            "description": described[status],
            "model": schemas.Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _RETRY_AFTER} if status == 503 else {}),
        }
        for status in (401, *statuses, 503)
    }


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document that errors are ``application/problem+json`` only.

    FastAPI lists every declared response as ``application/json`` too, and adds its own
    validation-error schema; neither is what the API sends. Changes ``openapi`` in place.
    """
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and PROBLEM_JSON in content:
                    content.pop("application/json", None)
    # The webhook calls Hotline sends are answered by the subscriber's receiver, which
    # never sends FastAPI's validation error either: only what the receiver may answer
    # stays (``server/api/outgoing.py``).
    for operations in openapi.get("webhooks", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas_ = openapi.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas_.pop(unused, None)
    return openapi
