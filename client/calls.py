"""What the SDK's groups of REST calls need of the client they are mixed into.

:class:`~client.sdk.HotlineClient` is made of a core (the HTTP connection, retries,
refusals as exceptions: ``sdk.py``) and groups of calls, one module each (``policy.py``,
``checks.py``, ``attachments.py``). A group is a mixin whose methods take ``self`` as a
:class:`Requester`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from client.errors import ApiError

__all__ = ["Answer", "Requester", "channel_path", "checked"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer, its body read (whole, or as far as the request's limit)."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON.

        Raises:
            ValueError: the body is not JSON.
        """
        return json.loads(self.body)


class Requester(Protocol):
    """A client that makes REST requests under ``/api/v1`` and raises refusals."""

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        notice_id: UUID | None = None,
        retry: bool = False,
    ) -> Any:
        """The decoded JSON answer, or the ``ApiError`` for the refusal."""

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        notice_id: UUID | None = None,
        retry: bool = False,
        limit: int | None = None,
    ) -> Answer:
        """The answer as bytes (at most ``limit`` and one more), or the refusal raised."""


def channel_path(channel: str) -> str:
    """The path of a channel's resources (its id quoted: it may not hold a slash)."""
    return f"/channels/{quote(channel, safe='')}"


def checked(model: type[M], value: Any) -> M:
    """``value`` as a request ``model``, refused here as the server would refuse it.

    Raises:
        ApiError: ``value`` breaks the schema (422 ``invalid-request``, as from the server).
    """
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        found = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in found)
        problem = {"status": 422, "code": "invalid-request", "errors": found, "detail": detail}
        raise ApiError.from_problem(problem) from None
