"""The JSON shapes of the REST API, as Pydantic models shared by server and clients.

Requests forbid unknown fields, so a typo is a clear 422 rather than a silently ignored
option. Times are RFC 3339 UTC to the millisecond (see ``times.py``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from client.protocol.limits import (
    ID_PATTERN,
    MAX_AREA,
    MAX_BODY,
    MAX_REASON,
    MAX_SUBJECT,
    check_line,
    check_text,
)
from client.protocol.times import format_time, to_millisecond
from client.protocol.vocabulary import Decision, EventType, Priority, Role, Status

__all__ = [
    "MAX_SEQ",
    "ActivityWindow",
    "Actor",
    "CancelRequest",
    "Cancellation",
    "Channel",
    "DecisionRecord",
    "DecisionRequest",
    "Event",
    "EventPage",
    "KeyOut",
    "KeyRegistration",
    "Me",
    "NamedRef",
    "NoticeDetail",
    "NoticeDraft",
    "NoticeOut",
    "NoticePage",
    "PolicyOut",
    "Problem",
    "Receipt",
    "Time",
]

Time = Annotated[
    AwareDatetime,
    AfterValidator(to_millisecond),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An RFC 3339 time with a zone; stored and served in UTC, to the millisecond."""

Subject = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SUBJECT, pattern=r"\S"),
    AfterValidator(check_line),
]
Body = Annotated[str, StringConstraints(max_length=MAX_BODY), AfterValidator(check_text)]
Area = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_AREA, pattern=r"\S"),
    AfterValidator(check_line),
]
PartyId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

MAX_SEQ = 2**31 - 1
"""The largest sequence number a log can hold (a 32-bit column)."""
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
Reason = Annotated[str, StringConstraints(max_length=MAX_REASON), AfterValidator(check_text)]
Signature = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]
_SIGNATURE = (
    "The operator's signature of what it says, made with the key it registered on the "
    "channel: base64 of the key's 4-byte id and the 64-byte Ed25519 signature (see "
    "client/protocol/signatures.py)."
)

_REQUEST = ConfigDict(extra="forbid")


class ActivityWindow(BaseModel):
    """When the announced activity takes place."""

    model_config = _REQUEST

    starts_at: Time = Field(description="When the activity starts.")
    ends_at: Time = Field(description="When it ends; must be after `starts_at`.")


class NoticeDraft(BaseModel):
    """A notice as the sending client writes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c3c1e-8a51-4a8e-9a57-3f0d2c4b9e10",
                    "subject": "Water main renewal, Mill Lane",
                    "body": "Open trench on the north lane; one lane closed with signals.",
                    "priority": "routine",
                    "activity": {
                        "starts_at": "2026-12-07T07:00:00.000Z",
                        "ends_at": "2026-12-11T17:00:00.000Z",
                    },
                    "area": "Mill Lane, numbers 2-40",
                    "ack_required": True,
                }
            ]
        },
    )

    id: UUID = Field(
        description="Chosen by the client, unique for ever. Sending the same id again with "
        "the same content returns the original; with other content it is a conflict."
    )
    subject: Subject = Field(description="One line, 1 to 200 characters.")
    body: Body = Field("", description="Free text, at most 10,000 characters.")
    priority: Priority = Field(
        Priority.ROUTINE, description="Sets the acknowledgement deadline and minimum advance."
    )
    activity: ActivityWindow | None = Field(
        None, description="When the announced activity takes place, if it has a time."
    )
    area: Area | None = Field(None, description="Where: a street, a district, a grid square.")
    ack_required: bool = Field(
        True, description="Whether the receiving party must acknowledge or object."
    )
    refers_to: UUID | None = Field(
        None, description="An earlier notice of the same channel that this one updates."
    )
    client_time: Time | None = Field(
        None, description="The client's own clock, kept as a claim beside the server's time."
    )
    signature: Signature | None = Field(None, description=_SIGNATURE)


class DecisionRequest(BaseModel):
    """The receiving party's answer to a notice."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "acknowledged"},
                {"decision": "objected", "reason": "Resurfacing of Mill Lane ends on 9 Dec."},
            ]
        },
    )

    decision: Decision = Field(description="`acknowledged`, or `objected` with a reason.")
    reason: Reason | None = Field(None, description="Why; required when objecting.")
    client_time: Time | None = Field(
        None, description="The client's own clock, kept as a claim beside the server's time."
    )
    signature: Signature | None = Field(None, description=_SIGNATURE)


class CancelRequest(BaseModel):
    """The sending party withdraws a notice."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Works postponed to the spring."}]},
    )

    reason: Reason | None = Field(None, description="Why the notice is withdrawn.")


class NamedRef(BaseModel):
    """An id with its display name."""

    id: str = Field(description="Stable identifier.")
    name: str = Field(description="Display name.")


class Me(BaseModel):
    """The operator a token belongs to."""

    operator: NamedRef = Field(description="The operator.")
    role: Role = Field(description="What the operator may do.")
    party: NamedRef = Field(description="The party the operator acts for.")


class PolicyOut(BaseModel):
    """A channel's rules, in seconds per priority."""

    ack_deadline_seconds: dict[Priority, int] = Field(
        description="Time from sending to the acknowledgement deadline."
    )
    min_advance_notice_seconds: dict[Priority, int] = Field(
        description="How long before its activity starts a notice must be sent."
    )
    require_signatures: bool = Field(
        False, description="Whether notices and decisions must carry the operator's signature."
    )


class KeyRegistration(BaseModel):
    """An operator's public key, to check the signatures it makes on a channel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"verifier_key": "ana+81ebb1d6+Ae2r9wax9AbqVqCMiqhTvN/bbXsnW83C1WHfz/AMhsZI"}
            ]
        },
    )

    verifier_key: str = Field(
        max_length=300,
        description="`<operator id>+<key id>+<base64 key>`, as `hotline keygen` prints it; "
        "the key's name must be the caller's operator id.",
    )


class KeyOut(BaseModel):
    """The key an operator has in force on a channel."""

    channel: str = Field(description="The channel's id.")
    operator: str = Field(description="The operator's id, the key's name.")
    verifier_key: str = Field(description="The verifier key.")
    seq: int = Field(description="Sequence number of its `operator.key_registered` event.")
    registered_at: Time = Field(description="Server time of the registration.")


class Channel(BaseModel):
    """A channel as one of its parties sees it."""

    id: str = Field(description="Stable identifier.")
    parties: list[NamedRef] = Field(description="The two parties.")
    policy: PolicyOut = Field(description="Deadlines and advance notice.")
    head: int = Field(description="Sequence number of the last event in the log (0 if none).")


class Actor(BaseModel):
    """Who caused an event."""

    party: str = Field(description="The party's id.")
    operator: str = Field(description="The operator's id.")


class Event(BaseModel):
    """One entry of a channel's log: the same object in every API, export and proof."""

    channel: str = Field(description="The channel's id.")
    seq: int = Field(description="Position in the channel's log, counting from 1, no gaps.")
    type: EventType | str = Field(
        union_mode="left_to_right",  # a known type becomes the enum member, others stay text
        description="What happened: one of the known types, or a newer one this client does "
        "not know yet (clients should pass those on, not fail).",
    )
    at: Time = Field(description="The server's clock when it happened.")
    actor: Actor | None = Field(description="Who did it; `null` for the server itself.")
    data: dict[str, Any] = Field(description="Details, by type (see the event reference).")


class EventPage(BaseModel):
    """A slice of a channel's log."""

    events: list[Event] = Field(description="Events in log order.")
    head: int = Field(description="The log's last sequence number when read.")


class Receipt(BaseModel):
    """When the receiving party got the notice."""

    at: Time = Field(description="Server time of the first confirmation.")
    operator: str = Field(description="The operator whose client confirmed first.")


class DecisionRecord(BaseModel):
    """The receiving party's answer."""

    decision: Decision = Field(description="`acknowledged` or `objected`.")
    reason: str | None = Field(description="Why, for an objection.")
    at: Time = Field(description="Server time of the decision.")
    operator: str = Field(description="The operator who decided.")


class Cancellation(BaseModel):
    """The sender's withdrawal."""

    at: Time = Field(description="Server time of the cancellation.")
    operator: str = Field(description="The operator who cancelled.")
    reason: str | None = Field(description="Why.")


class NoticeOut(BaseModel):
    """A notice and where it stands."""

    id: UUID = Field(description="The client-chosen id.")
    channel: str = Field(description="The channel's id.")
    sender: Actor = Field(description="Who sent it.")
    subject: str = Field(description="One line.")
    body: str = Field(description="Free text.")
    priority: Priority = Field(description="How pressing it is.")
    activity: ActivityWindow | None = Field(description="When the activity takes place.")
    area: str | None = Field(description="Where.")
    ack_required: bool = Field(description="Whether an answer is required.")
    refers_to: UUID | None = Field(description="The earlier notice this one updates.")
    status: Status = Field(description="Where the notice is in its life.")
    seq: int = Field(description="Sequence number of its `notice.sent` event.")
    sent_at: Time = Field(description="Server time of sending.")
    client_time: Time | None = Field(description="The sender's own clock, as claimed.")
    ack_due_at: Time | None = Field(description="The acknowledgement deadline, if any.")
    receipt: Receipt | None = Field(description="When the receiving party got it.")
    decision: DecisionRecord | None = Field(description="The receiving party's answer.")
    cancellation: Cancellation | None = Field(description="The sender's withdrawal.")
    overdue_at: Time | None = Field(description="When the deadline was found missed.")


class NoticeDetail(NoticeOut):
    """A notice with its own events from the log."""

    history: list[Event] = Field(description="This notice's events, in log order.")


class NoticePage(BaseModel):
    """One page of notices, newest first."""

    items: list[NoticeOut] = Field(description="The notices on this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; `null` on the last page."
    )


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time.")
    instance: str | None = Field(None, description="The request path.")
    code: str = Field(description="A stable, machine-readable slug of `type`.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For invalid input: where and why, one entry per problem."
    )
    decision: DecisionRecord | None = Field(
        None, description="For a second decision: the first one, which stands."
    )
