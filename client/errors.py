"""Everything the Python client raises, under one root::

    HotlineError                 the root: catch it to catch them all
    ├── ApiError                 the server refused a request (.status, .code, .detail, .problem)
    │   ├── Invalid              400, 413, 422: the request is malformed or breaks the policy
    │   ├── Unauthenticated      401: no valid token
    │   ├── Forbidden            403: the caller's role or party may not do this
    │   ├── NotFound             404: no such thing, or not visible to the caller's party
    │   └── Conflict             409: clashes with the log (.decision for a second decision)
    ├── Unreachable              the server could not be reached over HTTP
    ├── AttachmentMismatch       a file is not the one the log lists (.sha256, .found, .size)
    ├── LogTampered              an event or checkpoint does not match the signed log (.seq)
    ├── SplitView                two signed checkpoints that cannot both be true (.earlier, .later)
    └── ConnectionLost           the live socket dropped while a command waited (.code)
        └── Closed               the server closed the socket for good, e.g. 4401 (.code)

The same refusal gets the same exception whether it came as a REST problem response
(RFC 9457) or as a WebSocket ``error`` message: both carry the status and the stable
``code`` that docs/reference/errors.md lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from client.protocol.schemas import DecisionRecord

__all__ = [
    "ApiError",
    "AttachmentMismatch",
    "Closed",
    "Conflict",
    "ConnectionLost",
    "Forbidden",
    "HotlineError",
    "Invalid",
    "LogTampered",
    "NotFound",
    "SplitView",
    "Unauthenticated",
    "Unreachable",
]


class HotlineError(Exception):
    """The root of every error the client raises.

    Attributes:
        notice_id: the notice the failed call was about, when there was one. After a
            failed ``send`` it is the id to send again with: a retry is then safe.
    """

    def __init__(self, message: str, *, notice_id: UUID | None = None) -> None:
        super().__init__(message)
        self.notice_id = notice_id


class ApiError(HotlineError):
    """The server refused a request; ``code`` is the problem's stable slug.

    Attributes:
        status: the HTTP status (a socket ``error`` message carries the same one).
        code: a machine-readable slug such as ``not-found`` or ``already-decided``.
        detail: what went wrong this time, in words.
        problem: the whole problem-details object, extension members included.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        problem: Mapping[str, Any] | None = None,
        notice_id: UUID | None = None,
    ) -> None:
        super().__init__(f"{detail} ({status} {code})", notice_id=notice_id)
        self.status = status
        self.code = code
        self.detail = detail
        self.problem: dict[str, Any] = dict(problem or {})

    @classmethod
    def from_problem(
        cls, problem: Mapping[str, Any], *, status: int | None = None, notice_id: UUID | None = None
    ) -> ApiError:
        """The exception for a problem-details object or a socket ``error`` message.

        Args:
            problem: the decoded JSON; ``status``, ``code`` and ``detail`` are read from it.
            status: the HTTP status, when the object itself may lack one.
            notice_id: the notice the request was about, if any.

        Returns:
            An instance of the subclass for the status (``ApiError`` itself for others).
        """
        found = problem.get("status")
        status = found if isinstance(found, int) else (status or 0)
        code = str(problem.get("code") or f"http-{status}")
        detail = str(problem.get("detail") or problem.get("title") or "the server refused")
        kind = _BY_STATUS.get(status, ApiError)
        return kind(status, code, detail, problem=problem, notice_id=notice_id)


class Invalid(ApiError):
    """The request is malformed or breaks the channel policy (400, 413, 422)."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Where and why, one entry per field (empty when the server named none)."""
        found = self.problem.get("errors")
        return list(found) if isinstance(found, list) else []


class Unauthenticated(ApiError):
    """No token, or one the server does not know or has revoked (401)."""


class Forbidden(ApiError):
    """The caller's role or party may not do this (403)."""


class NotFound(ApiError):
    """No such channel or notice, or not one the caller's party can see (404)."""


class Conflict(ApiError):
    """The request clashes with what the log already holds (409)."""

    @property
    def decision(self) -> DecisionRecord | None:
        """For a second acknowledgement or objection: the first one, which stands."""
        found = self.problem.get("decision")
        if not isinstance(found, dict):
            return None
        try:
            return DecisionRecord.model_validate(found)
        except ValidationError:
            return None


_BY_STATUS: dict[int, type[ApiError]] = {
    400: Invalid,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: Invalid,
    422: Invalid,
}


class Unreachable(HotlineError):
    """The server did not answer over HTTP: refused, timed out, or the network failed."""


class AttachmentMismatch(HotlineError):
    """A file's bytes are not those the log lists: another SHA-256, or another size.

    Raised for a download whose bytes the server changed, lost or cut short, and by the
    checks of an export's attachments folder. The bytes are never handed over.

    Attributes:
        sha256: the hash asked for (the one the log lists), lower-case hex.
        found: the SHA-256 of the bytes there are, lower-case hex.
        size: how many bytes there are (the log's size is in the message).
    """

    def __init__(self, message: str, *, sha256: str, found: str, size: int) -> None:
        super().__init__(message)
        self.sha256 = sha256
        self.found = found
        self.size = size


class ConnectionLost(HotlineError):
    """The live socket dropped while a command waited for its answer.

    The subscription reconnects by itself; whether the command took effect is unknown,
    so send it again (a notice with the same id, a receipt, a cancellation are safe).

    Attributes:
        code: the WebSocket close code, or ``None`` if the connection just broke.
        reason: the close reason the server gave, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        notice_id: UUID | None = None,
    ) -> None:
        super().__init__(message, notice_id=notice_id)
        self.code = code
        self.reason = reason


class Closed(ConnectionLost):
    """The server closed the socket for a reason that reconnecting would not fix.

    ``code`` is the close code (``4401``: the token is unknown or revoked), or, when the
    server refused the WebSocket handshake itself, its HTTP status (below 1000).
    """


class LogTampered(HotlineError):
    """An event, or a checkpoint, does not match what the server signed.

    Attributes:
        channel: the channel.
        seq: the first event that does not match, when it could be told.
    """

    def __init__(self, message: str, *, channel: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.channel = channel
        self.seq = seq


class SplitView(HotlineError):
    """The server signed two checkpoints of a channel that cannot both be true.

    Keep both notes: together they prove the server showed two histories.

    Attributes:
        channel: the channel.
        earlier: the checkpoint note verified before.
        later: the checkpoint note that contradicts it.
    """

    def __init__(self, message: str, *, channel: str, earlier: str, later: str) -> None:
        super().__init__(message)
        self.channel = channel
        self.earlier = earlier
        self.later = later
