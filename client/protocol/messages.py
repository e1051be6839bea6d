"""The WebSocket protocol: every message is one JSON object with a ``type``.

A session, message by message (docs/explanation/websocket-session.md walks through one)::

    client                                   server
    hello {token}                      ──►
                                       ◄──   welcome {operator, party, role}
    subscribe {channel, after: 41}     ──►
                                       ◄──   subscribed {channel, head: 44}
                                       ◄──   event {event: seq 42} … seq 44, then live ones
    receipt {ref, channel, notice}     ──►
                                       ◄──   result {ref, notice}   (or error {ref, …})
                                       ◄──   event {event: check.requested, party: mine}
    answer_check {ref, channel, check} ──►
                                       ◄──   result {ref, check}    (or error {ref, …})
                                       ◄──   presence {channel, online}   whenever it changes

The token travels in the first message, never in the URL (URLs end up in logs) and never
in a header (a browser cannot set one on a WebSocket handshake). Commands carry a
client-chosen ``ref`` that the ``result`` or ``error`` answering them repeats. A socket's
subscriptions and commands are carried out one after another and answered in the order
sent; one sent while too many are waiting is refused at once (``error`` 429
``too-many-commands``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from client.protocol.limits import ID_PATTERN
from client.protocol.schemas import (
    MAX_SEQ,
    Check,
    DecisionRequest,
    Event,
    NamedRef,
    NoticeDraft,
    NoticeOut,
    Reason,
)
from client.protocol.schemas import POLICY_EXAMPLE as _POLICY
from client.protocol.vocabulary import Role

__all__ = [
    "CLOSE_CODE_MEANINGS",
    "AnswerCheckMessage",
    "CancelMessage",
    "ClientMessage",
    "CloseCode",
    "DecideMessage",
    "ErrorMessage",
    "EventMessage",
    "HelloMessage",
    "PresenceMessage",
    "ReceiptMessage",
    "ResultMessage",
    "SendMessage",
    "ServerMessage",
    "SubscribeMessage",
    "SubscribedMessage",
    "WelcomeMessage",
    "parse_client_message",
    "parse_server_message",
]


class CloseCode(IntEnum):
    """Why the server closed a socket (4000-4999 are the application's own codes)."""

    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    UNAUTHENTICATED = 4401
    HELLO_TIMEOUT = 4408
    TOO_SLOW = 4429


CLOSE_CODE_MEANINGS: dict[CloseCode, str] = {
    CloseCode.NORMAL: "The client said goodbye.",
    CloseCode.MESSAGE_TOO_BIG: "A frame was far larger than the server accepts.",
    CloseCode.INTERNAL_ERROR: "The peer missed its pings, or the server failed: reconnect and "
    "resume.",
    CloseCode.SERVICE_RESTART: "The server is shutting down or restarting: reconnect and resume.",
    CloseCode.UNAUTHENTICATED: "The first message was not a `hello` with a valid token, or the "
    "token the socket said `hello` with has since been revoked. Final.",
    CloseCode.HELLO_TIMEOUT: "No `hello` arrived in time after the socket opened.",
    CloseCode.TOO_SLOW: "The client fell behind its events: reconnect and resume from the last "
    "`seq` it has.",
}
"""What each close code means, for documents and for people."""


_MESSAGE = ConfigDict(extra="forbid")
Ref = Annotated[
    str, Field(min_length=1, max_length=64, description="Chosen by the client, echoed back.")
]


# -- client to server ---------------------------------------------------------------------


class HelloMessage(BaseModel):
    """The first message of every session: who the client is."""

    model_config = _MESSAGE
    type: Literal["hello"] = "hello"
    token: str = Field(description="The operator's bearer token.", max_length=200)


class SubscribeMessage(BaseModel):
    """Ask for a channel's events after ``after``, then live ones."""

    model_config = _MESSAGE
    type: Literal["subscribe"] = "subscribe"
    ref: Ref | None = Field(None, description="Echoed in an `error` if the subscription fails.")
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    after: int = Field(0, ge=0, le=MAX_SEQ, description="The last sequence number the client has.")


class SendMessage(BaseModel):
    """Send a notice, exactly as ``POST …/notices`` does."""

    model_config = _MESSAGE
    type: Literal["send"] = "send"
    ref: Ref
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    notice: NoticeDraft = Field(description="The notice.")


class ReceiptMessage(BaseModel):
    """Confirm that this client has a notice (records ``notice.received`` once)."""

    model_config = _MESSAGE
    type: Literal["receipt"] = "receipt"
    ref: Ref
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    notice: UUID = Field(description="The notice's id.")


class DecideMessage(DecisionRequest):
    """Acknowledge or object, exactly as ``POST …/decision`` does."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "decide",
                    "ref": "d1",
                    "channel": "water-roads",
                    "notice": "6f1c3c1e-8a51-4a8e-9a57-3f0d2c4b9e10",
                    "decision": "acknowledged",
                }
            ]
        },
    )

    type: Literal["decide"] = "decide"
    ref: Ref
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    notice: UUID = Field(description="The notice's id.")


class CancelMessage(BaseModel):
    """Cancel a notice, exactly as ``POST …/cancellation`` does."""

    model_config = _MESSAGE
    type: Literal["cancel"] = "cancel"
    ref: Ref
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    notice: UUID = Field(description="The notice's id.")
    reason: Reason | None = Field(None, description="Why.")


class AnswerCheckMessage(BaseModel):
    """Answer a liveness check for one's party, exactly as ``POST …/checks/{id}/answer`` does."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "answer_check",
                    "ref": "a1",
                    "channel": "water-roads",
                    "check": "3b8f6a2e-5c1d-5e7f-9a0b-2c4d6e8f0a1b",
                }
            ]
        },
    )

    type: Literal["answer_check"] = "answer_check"
    ref: Ref
    channel: str = Field(description="The channel's id.", pattern=ID_PATTERN)
    check: UUID = Field(description="The check's id, from its `check.requested` event.")


ClientMessage = Annotated[
    HelloMessage
    | SubscribeMessage
    | SendMessage
    | ReceiptMessage
    | DecideMessage
    | CancelMessage
    | AnswerCheckMessage,
    Field(discriminator="type"),
]
"""Anything a client may send."""

# -- server to client ---------------------------------------------------------------------


class WelcomeMessage(BaseModel):
    """The answer to a good ``hello``."""

    type: Literal["welcome"] = "welcome"
    operator: NamedRef = Field(description="The authenticated operator.")
    role: Role = Field(description="Its role.")
    party: NamedRef = Field(description="Its party.")


class SubscribedMessage(BaseModel):
    """The answer to ``subscribe``: the missed events follow, then live ones."""

    type: Literal["subscribed"] = "subscribed"
    channel: str = Field(description="The channel's id.")
    head: int = Field(description="The log's last sequence number at subscription time.")
    checkpoint: str | None = Field(
        None,
        description="The signed checkpoint of the log up to `head` (a C2SP signed note): "
        "check it against the last one you kept before you trust what follows. This server "
        "always sends it; a client that verifies treats its absence as an error.",
    )


def _event(
    seq: int, kind: str, at: str, actor: dict[str, str] | None, data: dict[str, Any]
) -> dict[str, Any]:
    event = {
        "channel": "water-roads",
        "seq": seq,
        "type": kind,
        "at": at,
        "actor": actor,
        "data": data,
    }
    return {"type": "event", "event": event, "checkpoint": None}


_NOTICE = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f"
_OTHER = "c3a4f0de-51b2-4c43-8f1e-2b7d4e9a6c10"
_CHECK = "3b8f6a2e-5c1d-5e7f-9a0b-2c4d6e8f0a1b"
_CONFLICT = "9d2c1b0a-8e7f-5a6b-9c4d-3e2f1a0b9c8d"
_PROPOSAL = "0b7e4f0c-2f6e-4d33-9a59-3d6c1b2a9e41"
_ANA = {"party": "water", "operator": "ana"}
_CARLA = {"party": "roads", "operator": "carla"}
_EVENT_EXAMPLES: list[Any] = [
    _event(
        12,
        "notice.reminded",
        "2026-11-25T09:00:00.412Z",
        None,
        {
            "notice": _NOTICE,
            "due_at": "2026-11-25T09:00:00.000Z",
            "party": "roads",
            "reminder": 1,
            "of": 2,
        },
    ),
    _event(
        14,
        "notice.escalated",
        "2026-11-27T09:00:00.388Z",
        None,
        {
            "notice": _NOTICE,
            "due_at": "2026-11-27T09:00:00.000Z",
            "party": "roads",
            "to": ["dev"],
        },
    ),
    _event(
        15,
        "check.requested",
        "2026-11-27T10:00:00.104Z",
        None,
        {
            "check": _CHECK,
            "party": "roads",
            "due_at": "2026-11-27T10:00:00.000Z",
            "answer_by": "2026-11-27T10:05:00.104Z",
        },
    ),
    _event(
        16,
        "check.answered",
        "2026-11-27T10:00:02.730Z",
        _CARLA,
        {
            "check": _CHECK,
            "party": "roads",
            "requested_at": "2026-11-27T10:00:00.104Z",
            "answered_in_ms": 2626,
        },
    ),
    _event(
        17,
        "check.missed",
        "2026-11-27T11:05:00.215Z",
        None,
        {
            "check": "7e1d0c9b-2a3f-5b4c-8d6e-0f1a2b3c4d5e",
            "party": "roads",
            "due_at": "2026-11-27T11:05:00.120Z",
            "to": ["dev"],
        },
    ),
    _event(
        18,
        "conflict.detected",
        "2026-11-27T11:20:41.907Z",
        None,
        {
            "conflict": _CONFLICT,
            "notices": [_NOTICE, _OTHER],
            "area": "mill lane, numbers 2-40",
            "overlap": {
                "starts_at": "2026-12-08T07:00:00.000Z",
                "ends_at": "2026-12-09T17:00:00.000Z",
            },
        },
    ),
    _event(
        20,
        "conflict.resolved",
        "2026-11-27T14:02:13.561Z",
        None,
        {"conflict": _CONFLICT, "notices": [_NOTICE, _OTHER], "by": _OTHER, "reason": "cancelled"},
    ),
    _event(
        21,
        "channel.policy_proposed",
        "2026-11-28T08:30:00.000Z",
        _ANA,
        {"proposal": _PROPOSAL, "policy": _POLICY, "lapses_at": "2026-12-05T08:30:00.000Z"},
    ),
    _event(
        22,
        "channel.policy_changed",
        "2026-11-28T09:12:45.000Z",
        _CARLA,
        {"proposal": _PROPOSAL, "policy": _POLICY, "proposed_by": _ANA},
    ),
    _event(
        23,
        "channel.policy_withdrawn",
        "2026-11-29T10:00:00.000Z",
        _ANA,
        {"proposal": "5f3e2d1c-0b9a-4877-a665-544332211000"},
    ),
    _event(
        24,
        "webhook.disabled",
        "2026-11-30T03:14:07.118Z",
        None,
        {
            "webhook": "6c1f0d3e-2b7a-4f49-9a51-0f3e8d2c7b14",
            "party": "water",
            "failures": 10,
            "reason": "10 deliveries given up in a row; the last: HTTP 503",
        },
    ),
]
"""Events of the clock, of conflicting plans, of the policy and of the outbox, as the socket
pushes them."""


class EventMessage(BaseModel):
    """One event of a subscribed channel, in log order, once per connection."""

    model_config = ConfigDict(json_schema_extra={"examples": _EVENT_EXAMPLES})

    type: Literal["event"] = "event"
    event: Event = Field(description="The event, exactly as the REST API serves it.")
    checkpoint: str | None = Field(
        None,
        description="The signed checkpoint of the log up to this event. The last event of "
        "every batch the server sends carries one; it vouches for the events before it.",
    )


class ResultMessage(BaseModel):
    """A command succeeded: ``notice`` answers a notice's command, ``check`` an ``answer_check``."""

    type: Literal["result"] = "result"
    ref: str = Field(description="The command's ``ref``.")
    notice: NoticeOut | None = Field(
        None, description="The notice as it stands after a `send`, `receipt`, `decide` or `cancel`."
    )
    check: Check | None = Field(None, description="The check as it stands after an `answer_check`.")
    created: bool = Field(description="Whether the command changed anything.")


class ErrorMessage(BaseModel):
    """A message was refused; the socket stays open unless a close follows."""

    type: Literal["error"] = "error"
    ref: str | None = Field(None, description="The refused command's ``ref``, if it had one.")
    status: int = Field(description="The HTTP status the same refusal gets over REST.")
    code: str = Field(description="The same problem code as over REST.")
    detail: str = Field(description="What went wrong.")
    errors: list[dict[str, Any]] | None = Field(None, description="Field errors, if any.")
    decision: dict[str, Any] | None = Field(
        None, description="For a second decision: the first one, which stands."
    )


class PresenceMessage(BaseModel):
    """Who of each party is connected to a channel right now; sent when it changes."""

    type: Literal["presence"] = "presence"
    channel: str = Field(description="The channel's id.")
    online: dict[str, list[str]] = Field(description="Party id to its connected operators.")


ServerMessage = Annotated[
    WelcomeMessage
    | SubscribedMessage
    | EventMessage
    | ResultMessage
    | ErrorMessage
    | PresenceMessage,
    Field(discriminator="type"),
]
"""Anything the server may send."""

_client_messages: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_server_messages: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one client message; raises ``pydantic.ValidationError`` if malformed."""
    return _client_messages.validate_json(text)


def parse_server_message(text: str | bytes) -> ServerMessage:
    """Parse one server message; raises ``pydantic.ValidationError`` if malformed."""
    return _server_messages.validate_json(text)
