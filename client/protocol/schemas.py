"""The JSON shapes of the REST API, as Pydantic models shared by server and clients.

Requests forbid unknown fields, so a typo is a clear 422 rather than a silently ignored
option. Times are RFC 3339 UTC to the millisecond (see ``times.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    JsonValue,
    PlainSerializer,
    Strict,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    computed_field,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from client.protocol.limits import (
    EMAIL_PATTERN,
    FILE_NAME_PATTERN,
    ID_PATTERN,
    MAX_AREA,
    MAX_BODY,
    MAX_REASON,
    MAX_SUBJECT,
    NONBLANK_LINE_PATTERN,
    NONBLANK_TEXT_PATTERN,
    TEXT_PATTERN,
    check_line,
    check_text,
)
from client.protocol.times import format_time, to_millisecond
from client.protocol.vocabulary import Decision, EventType, Priority, Role, Status

__all__ = [
    "BEFORE_PATTERN",
    "CURSOR_PATTERN",
    "DEFAULT_CHASE",
    "MAX_ATTACHMENTS",
    "MAX_OVERLAP_SECONDS",
    "MAX_POLICY_SECONDS",
    "MAX_SEQ",
    "POLICY_EXAMPLE",
    "SIGNATURE_PATTERN",
    "VERIFIER_KEY_PATTERN",
    "WEBHOOK_URL_PATTERN",
    "ActivityWindow",
    "Actor",
    "Attachment",
    "Availability",
    "BoundingBox",
    "CancelRequest",
    "Cancellation",
    "Channel",
    "Chase",
    "ChaseByPriority",
    "ChaseIn",
    "Check",
    "CheckPage",
    "CheckSchedule",
    "CheckScheduleIn",
    "CheckStatus",
    "Conflict",
    "DeadlinesByPriority",
    "DecisionRecord",
    "DecisionRequest",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryPage",
    "Documented",
    "EmailAddress",
    "Event",
    "EventPage",
    "Integer",
    "KeyOut",
    "KeyRegistration",
    "Me",
    "MediaType",
    "NamedRef",
    "NoticeDetail",
    "NoticeDraft",
    "NoticeOut",
    "NoticePage",
    "OperatorEmail",
    "PartyAvailability",
    "PolicyIn",
    "PolicyOut",
    "PolicyState",
    "Problem",
    "Proposal",
    "ProposalRequest",
    "Receipt",
    "RotateRequest",
    "RotatedSecret",
    "SecondsByPriority",
    "Time",
    "Webhook",
    "WebhookChange",
    "WebhookCreated",
    "WebhookRequest",
]

_RFC_3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc_3339(value: object) -> object:
    # Pydantic alone would also take a number of seconds since 1970, or "2026-11-21 09:30Z":
    # the wire says RFC 3339, and a schema that says one thing and accepts others misleads.
    if isinstance(value, str) and not _RFC_3339.fullmatch(value):
        raise ValueError("an RFC 3339 time, such as 2026-11-21T09:30:00.123Z")
    if not isinstance(value, str | datetime):
        raise ValueError("a time is a string: RFC 3339, such as 2026-11-21T09:30:00.123Z")
    return value


Time = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc_3339),
    AfterValidator(to_millisecond),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An RFC 3339 time with a zone; stored and served in UTC, to the millisecond."""


@dataclass(frozen=True, slots=True)
class Documented:
    """Say a rule in the JSON Schema as one ``pattern``, where a validator enforces it.

    The validators (``check_line``, ``check_text``, the domain's) give the clearer error;
    the pattern lets a client, or a fuzzer, read the same rule off the document.
    """

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema pydantic makes, with this pattern in place of any other."""
        return {**handler(core_schema), "pattern": self.pattern}


Subject = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SUBJECT, pattern=r"\S"),
    AfterValidator(check_line),
    Documented(NONBLANK_LINE_PATTERN),
]
Body = Annotated[
    str,
    StringConstraints(max_length=MAX_BODY),
    AfterValidator(check_text),
    Documented(TEXT_PATTERN),
]
Area = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_AREA, pattern=r"\S"),
    AfterValidator(check_line),
    Documented(NONBLANK_LINE_PATTERN),
]
PartyId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _whole_number(value: object) -> object:
    # JSON Schema's integer is any number whose fraction is zero (3600.0 is 3600: JSON has
    # one kind of number), so a document that says "integer" accepts both spellings.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, Strict(), BeforeValidator(_whole_number)]
"""A request's whole number: a JSON number with no fraction (``60`` or ``60.0``); strict
otherwise, so neither ``"60"`` nor ``true`` is taken for one."""

MAX_SEQ = 2**31 - 1
"""The largest sequence number a log can hold (a 32-bit column)."""
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
Reason = Annotated[
    str,
    StringConstraints(max_length=MAX_REASON),
    AfterValidator(check_text),
    Documented(TEXT_PATTERN),
]
# Base64 of 68 bytes, in its one canonical spelling (``client/protocol/signatures.py``):
# 90 characters, one whose low two bits are zero, and one "=". The looser rule checked
# here lets the domain answer a malformed signature as ``bad-signature``, as documented.
SIGNATURE_PATTERN = r"^[A-Za-z0-9+/]{90}[AEIMQUYcgkosw048]=$"
Signature = Annotated[
    str,
    StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9+/]+={0,2}$"),
    Documented(SIGNATURE_PATTERN),
]
_SIGNATURE = (
    "The operator's signature of what it says, made with the key it registered on the "
    "channel: base64 of the key's 4-byte id and the 64-byte Ed25519 signature (see "
    "client/protocol/signatures.py)."
)

_REQUEST = ConfigDict(extra="forbid")


def _south_first(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    if box[1] > box[3]:
        raise ValueError("south must not be north of north: [west, south, east, north]")
    return box


_Longitude = Annotated[float, Strict(), Field(ge=-180, le=180, allow_inf_nan=False)]
_Latitude = Annotated[float, Strict(), Field(ge=-90, le=90, allow_inf_nan=False)]
_LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}
_LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
BoundingBox = Annotated[
    tuple[_Longitude, _Latitude, _Longitude, _Latitude],
    AfterValidator(_south_first),
    WithJsonSchema(
        {
            "type": "array",
            "prefixItems": [_LONGITUDE, _LATITUDE, _LONGITUDE, _LATITUDE],
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
        }
    ),
]
"""``[west, south, east, north]`` in degrees: the ``bbox`` of RFC 7946 (GeoJSON) §5.

Longitudes are within -180 and 180, latitudes within -90 and 90, south no further north
than north. A west greater than east is a box that crosses the antimeridian.
"""
_BBOX = (
    "Where, as a box of degrees `[west, south, east, north]` (RFC 7946 §5): longitudes "
    "-180 to 180, latitudes -90 to 90, south not north of north; west greater than east "
    "crosses the antimeridian. Only with an `area`, which names the place."
)
CheckStatus = Literal["pending", "answered", "missed"]
"""Where a liveness check stands."""


class ActivityWindow(BaseModel):
    """When the announced activity takes place."""

    model_config = _REQUEST

    starts_at: Time = Field(description="When the activity starts.")
    ends_at: Time = Field(description="When it ends; must be after `starts_at`.")


MediaType = Literal[
    "application/pdf", "image/png", "image/jpeg", "application/geo+json", "text/plain"
]
"""The kinds of file a notice may carry; the server checks each upload's bytes against it."""
MAX_ATTACHMENTS = 10
"""Files a notice may list at most."""
FileName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\\]+$"),
    AfterValidator(check_line),
    Documented(FILE_NAME_PATTERN),  # the domain refuses the rest (check_name)
]


class Attachment(BaseModel):
    """A file a notice carries, as the upload answered it: the log proves which file it was.

    The server also refuses names `.` and `..` and bidirectional control characters.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sha256": "9f2b5c8e0d1a7b3c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
                    "size": 48213,
                    "media_type": "application/pdf",
                    "name": "mill-lane-traffic-plan.pdf",
                }
            ]
        },
    )

    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The file's SHA-256, 64 lower-case hex digits."
    )
    size: Integer = Field(ge=1, description="The file's size in bytes.")
    media_type: MediaType = Field(description="What the file is; its bytes were checked.")
    name: FileName = Field(
        description="What the sender calls it: 1 to 255 characters, no `/` or `\\`, no "
        "control characters. A label only: files are stored by their hash."
    )


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
                    "bbox": [-1.2605, 51.7519, -1.2571, 51.7534],
                    "ack_required": True,
                }
            ],
            # A bbox comes with an area (the domain refuses one without): the document says so.
            "if": {"required": ["bbox"], "properties": {"bbox": {"type": "array"}}},
            "then": {"required": ["area"], "properties": {"area": {"type": "string"}}},
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
    bbox: BoundingBox | None = Field(None, description=_BBOX)
    ack_required: StrictBool = Field(
        True, description="Whether the receiving party must acknowledge or object."
    )
    refers_to: UUID | None = Field(
        None, description="An earlier notice of the same channel that this one updates."
    )
    client_time: Time | None = Field(
        None, description="The client's own clock, kept as a claim beside the server's time."
    )
    attachments: list[Attachment] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Files the notice carries, at most 10, each once (by its `sha256`), each "
        "uploaded to the channel by the sender's party first (`PUT …/attachments`), listed as "
        "the upload answered.",
        json_schema_extra={"uniqueItems": True},
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
            ],
            # An objection says why (the domain refuses one without): the document says so.
            "if": {"required": ["decision"], "properties": {"decision": {"const": "objected"}}},
            "then": {
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "pattern": NONBLANK_TEXT_PATTERN}},
            },
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
    email: str | None = Field(
        None, description="Where the operator's mail goes; `null`: no address, no mail."
    )


class EmailAddress(BaseModel):
    """An operator's new e-mail address."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "ana.lopez@water.example"}]}
    )

    # The server drops white space around the address before it checks it.
    email: Annotated[str, Documented(rf"^\s*(?:{EMAIL_PATTERN})\s*$")] = Field(
        max_length=254,
        description="An address as HTML's `<input type=email>` accepts it: "
        "`name@example.org`, ASCII, no display name.",
    )


class OperatorEmail(BaseModel):
    """Where an operator's mail goes."""

    operator: str = Field(description="The operator's id.")
    email: str | None = Field(description="The address; `null`: none, so no mail.")


MAX_POLICY_SECONDS = 366 * 24 * 3600
"""The longest duration a policy may set: a year (a leap one)."""
MAX_REMINDERS = 20
"""Reminders a notice may get at most (the domain's limit, ``server/domain/model.py``)."""
MAX_ON_DUTY = 50
"""Operators a party may name to escalate to."""

# A request's number of seconds is a JSON number without a fraction, not "60" or true.
# (The bounds go before the validator: after it, pydantic would write them into the JSON
# Schema as "ge" and "le", which JSON Schema does not know.)
Seconds = Annotated[
    int, Strict(), Field(ge=0, le=MAX_POLICY_SECONDS), BeforeValidator(_whole_number)
]
PositiveSeconds = Annotated[
    int, Strict(), Field(ge=1, le=MAX_POLICY_SECONDS), BeforeValidator(_whole_number)
]
OperatorId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class Chase(BaseModel):
    """How a notice left undecided past its deadline is chased, counted from the deadline."""

    remind_after_seconds: int = Field(
        description="From the acknowledgement deadline to the first reminder."
    )
    remind_every_seconds: int = Field(description="Between one reminder and the next.")
    reminders: int = Field(description="How many reminders at most; 0 sends none.")
    escalate_after_seconds: int | None = Field(
        description="From the deadline to the escalation; `null`: the notice never escalates."
    )


class CheckSchedule(BaseModel):
    """Liveness checks: how often each party is asked, and how long it has to answer."""

    every_seconds: int = Field(description="Time between one round of checks and the next.")
    answer_within_seconds: int = Field(
        description="How long a party has to answer a check before it is logged missed."
    )


DEFAULT_CHASE: dict[Priority, dict[str, int | None]] = {
    Priority.ROUTINE: {
        "remind_after_seconds": 86_400,
        "remind_every_seconds": 86_400,
        "reminders": 2,
        "escalate_after_seconds": 259_200,
    },
    Priority.IMPORTANT: {
        "remind_after_seconds": 7_200,
        "remind_every_seconds": 7_200,
        "reminders": 3,
        "escalate_after_seconds": 28_800,
    },
    Priority.URGENT: {
        "remind_after_seconds": 900,
        "remind_every_seconds": 900,
        "reminders": 4,
        "escalate_after_seconds": 3_600,
    },
}
"""The chase of a policy that names none (as policies stored before chasing existed)."""


def _default_chase() -> dict[Priority, Chase]:
    return {p: Chase.model_validate(plan) for p, plan in DEFAULT_CHASE.items()}


class PolicyOut(BaseModel):
    """A channel's rules, in seconds per priority: the form the log's policy events carry."""

    ack_deadline_seconds: dict[Priority, int] = Field(
        description="Time from sending to the acknowledgement deadline."
    )
    min_advance_notice_seconds: dict[Priority, int] = Field(
        description="How long before its activity starts a notice must be sent."
    )
    require_signatures: bool = Field(
        False, description="Whether notices and decisions must carry the operator's signature."
    )
    chase: dict[Priority, Chase] = Field(
        default_factory=_default_chase,
        description="Reminders and escalation of a notice undecided past its deadline. A "
        "policy written before chasing existed has the defaults.",
    )
    escalate_to: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per party, the operators on duty that its escalations go to; a party "
        "not named escalates to its admins.",
    )
    checks: CheckSchedule | None = Field(
        None, description="Liveness checks; `null`: the channel schedules none."
    )
    mail_when_offline: bool = Field(
        False,
        description="Whether a notice nobody of the receiving party has seen a while after "
        "it was sent (not received, none of its operators connected) is mailed to that "
        "party's operators. A policy written before mail existed has `false`.",
    )


class SecondsByPriority(BaseModel):
    """A duration in seconds for each priority; all three are required."""

    model_config = _REQUEST

    routine: Seconds = Field(description="For routine notices.")
    important: Seconds = Field(description="For important notices.")
    urgent: Seconds = Field(description="For urgent notices.")


class DeadlinesByPriority(BaseModel):
    """A positive duration in seconds for each priority; all three are required."""

    model_config = _REQUEST

    routine: PositiveSeconds = Field(description="For routine notices.")
    important: PositiveSeconds = Field(description="For important notices.")
    urgent: PositiveSeconds = Field(description="For urgent notices.")


class ChaseIn(BaseModel):
    """How to chase a notice undecided past its deadline; times count from the deadline."""

    model_config = _REQUEST

    remind_after_seconds: Seconds = Field(
        description="From the acknowledgement deadline to the first reminder."
    )
    remind_every_seconds: PositiveSeconds = Field(description="Between one reminder and the next.")
    reminders: Integer = Field(
        ge=0, le=MAX_REMINDERS, description="How many reminders at most; 0 sends none."
    )
    escalate_after_seconds: Seconds | None = Field(
        description="From the deadline to the escalation; `null`: never escalate."
    )


class ChaseByPriority(BaseModel):
    """How notices of each priority are chased; all three are required."""

    model_config = _REQUEST

    routine: ChaseIn = Field(description="For routine notices.")
    important: ChaseIn = Field(description="For important notices.")
    urgent: ChaseIn = Field(description="For urgent notices.")


class CheckScheduleIn(BaseModel):
    """Liveness checks to schedule: the answer window must be shorter than the interval."""

    model_config = _REQUEST

    every_seconds: Integer = Field(
        ge=60,
        le=MAX_POLICY_SECONDS,
        description="Time between rounds of checks, a minute at least.",
    )
    answer_within_seconds: PositiveSeconds = Field(
        description="How long a party has to answer; less than `every_seconds`."
    )


POLICY_EXAMPLE: dict[str, JsonValue] = {
    "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
    "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
    "require_signatures": False,
    "chase": {
        "routine": {
            "remind_after_seconds": 86400,
            "remind_every_seconds": 86400,
            "reminders": 2,
            "escalate_after_seconds": 259200,
        },
        "important": {
            "remind_after_seconds": 7200,
            "remind_every_seconds": 7200,
            "reminders": 3,
            "escalate_after_seconds": 28800,
        },
        "urgent": {
            "remind_after_seconds": 900,
            "remind_every_seconds": 900,
            "reminders": 4,
            "escalate_after_seconds": 3600,
        },
    },
    "escalate_to": {"roads": ["dev"]},
    "checks": {"every_seconds": 3600, "answer_within_seconds": 300},
}
"""A policy in its JSON form: the defaults, hourly checks, roads' escalations to dev."""


class PolicyIn(BaseModel):
    """A policy as an admin proposes it; the same form as the policy served.

    The server checks it again as a whole: every priority named once, acknowledgement
    deadlines positive, `escalate_to` naming only the channel's two parties.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [POLICY_EXAMPLE]})

    ack_deadline_seconds: DeadlinesByPriority = Field(
        description="Time from sending to the acknowledgement deadline."
    )
    min_advance_notice_seconds: SecondsByPriority = Field(
        description="How long before its activity starts a notice must be sent."
    )
    require_signatures: StrictBool = Field(
        False, description="Whether notices and decisions must carry the operator's signature."
    )
    chase: ChaseByPriority = Field(
        default_factory=lambda: ChaseByPriority.model_validate(DEFAULT_CHASE),
        description="Reminders and escalation per priority; the defaults when left out.",
    )
    escalate_to: dict[PartyId, Annotated[list[OperatorId], Field(max_length=MAX_ON_DUTY)]] = Field(
        default_factory=dict,
        max_length=2,
        description="Per party, the operators on duty its escalations go to; a party left "
        "out escalates to its admins.",
        # Pydantic says what a key that is a party id maps to, not that no other key may
        # be there; the server refuses one that is not.
        json_schema_extra={"additionalProperties": False},
    )
    checks: CheckScheduleIn | None = Field(
        None, description="Liveness checks to schedule; `null` or left out: none."
    )
    mail_when_offline: StrictBool = Field(
        False,
        description="Mail a notice to the receiving party's operators when none of them has "
        "seen it a while after it was sent (the server's `HOTLINE_MAIL_OFFLINE_AFTER_SECONDS`).",
    )


class ProposalRequest(BaseModel):
    """A policy proposed to the other party, who must accept it before it is in force."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7e4f0c-2f6e-4d33-9a59-3d6c1b2a9e41",
                    "policy": POLICY_EXAMPLE,
                    "lapses_in_seconds": 604800,
                }
            ]
        },
    )

    id: UUID = Field(
        description="Chosen by the client. Proposing the same id again with the same policy "
        "returns the proposal; with another policy it is a conflict."
    )
    policy: PolicyIn = Field(description="The policy proposed.")
    lapses_in_seconds: Integer = Field(
        604_800,
        ge=60,
        le=2_592_000,
        description="How long the other party has to accept: 1 minute to 30 days.",
    )


class Proposal(BaseModel):
    """A policy one party's admin proposed, waiting for an admin of the other party."""

    id: UUID = Field(description="The id its proposer chose.")
    policy: PolicyOut = Field(description="The policy proposed.")
    party: str = Field(description="The proposing party.")
    operator: str = Field(description="The admin who proposed it.")
    proposed_at: Time = Field(description="Server time of the proposal.")
    lapses_at: Time = Field(description="After this moment it can no longer be accepted.")


class PolicyState(BaseModel):
    """The policy in force on a channel, and the proposal waiting to replace it, if any."""

    in_force: PolicyOut = Field(description="The policy in force, as the log says.")
    policy_id: UUID | None = Field(
        description="The proposal that put it in force; `null` for the channel's first policy."
    )
    since_seq: int | None = Field(
        description="Sequence number of the `channel.policy_changed` event that put it in "
        "force; `null` for the channel's first policy."
    )
    pending: Proposal | None = Field(
        description="The proposal waiting for an answer; `null` when none waits (a lapsed "
        "one waits no more)."
    )


VERIFIER_KEY_PATTERN = rf"^{ID_PATTERN[1:-1]}\+[0-9a-f]{{8}}\+A[Q-Za-f][A-Za-z0-9+/]{{42}}$"
"""An operator's verifier key as the server takes it: named with an operator id, a key id
in hex, and base64 of 0x01 (Ed25519) and 32 bytes (``client/protocol/note.py``)."""


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

    verifier_key: Annotated[str, Documented(VERIFIER_KEY_PATTERN)] = Field(
        max_length=300,
        description="`<operator id>+<key id>+<base64 key>`, as `hotline keygen` prints it: "
        "the key's name must be the caller's operator id, its id the first four bytes of "
        "the SHA-256 of the name, a line feed and the key, in hex (the C2SP signed note "
        "format), its key base64 of 0x01 and the 32 bytes of an Ed25519 public key.",
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
    bbox: list[float] | None = Field(
        None, description="Where, as `[west, south, east, north]` in degrees, if given."
    )
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
    attachments: list[Attachment] = Field(
        default_factory=list,
        description="The files it carries; fetch each with `GET …/attachments/{sha256}` and "
        "check its hash.",
    )


class NoticeDetail(NoticeOut):
    """A notice with its own events from the log."""

    history: list[Event] = Field(description="This notice's events, in log order.")


CURSOR_PATTERN = "^[0-9]{1,10}$"
"""A listing's cursor, ``next_cursor``: a sequence number; the next page holds what was
logged before it (``server/service/queries.py``)."""
BEFORE_PATTERN = "^[0-9]{1,10}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""The delivery log's cursor, ``next_before``: the sequence number and id of the last
delivery of a page (``server/service/webhooks.py``)."""


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


class Check(BaseModel):
    """One liveness check: the server asked a party to show that somebody is listening."""

    id: UUID = Field(description="The check's id.")
    channel: str = Field(description="The channel's id.")
    party: str = Field(description="The party asked; any of its operators may answer.")
    seq: int = Field(description="Sequence number of its `check.requested` event.")
    due_at: Time = Field(description="When the schedule wanted it asked.")
    requested_at: Time = Field(description="Server time of the request.")
    answer_by: Time = Field(description="The end of the answer window.")
    answered_at: Time | None = Field(None, description="Server time of the answer, if any.")
    answered_by: str | None = Field(None, description="The operator who answered, if any.")
    missed_at: Time | None = Field(None, description="When the check was logged missed, if it was.")

    @computed_field(  # type: ignore[prop-decorator]
        description="`pending` (waiting for an answer until `answer_by`), `answered` or "
        "`missed`. A pending check past `answer_by` is about to be logged missed."
    )
    @property
    def status(self) -> CheckStatus:
        """Where the check stands, from its times."""
        if self.answered_at is not None:
            return "answered"
        return "pending" if self.missed_at is None else "missed"

    @computed_field(  # type: ignore[prop-decorator]
        description="From the request to the answer, in milliseconds; `null` if unanswered."
    )
    @property
    def answered_in_ms(self) -> int | None:
        """How long the answer took, as ``check.answered`` says."""
        if self.answered_at is None:
            return None
        return max(0, round((self.answered_at - self.requested_at).total_seconds() * 1000))


class CheckPage(BaseModel):
    """One page of liveness checks, newest first."""

    items: list[Check] = Field(description="The checks on this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; `null` on the last page."
    )


class PartyAvailability(BaseModel):
    """How one party answered the checks requested of it in a time range."""

    party: str = Field(description="The party's id.")
    requested: int = Field(description="Checks requested of it in the range.")
    answered: int = Field(description="Of those, answered in time.")
    missed: int = Field(description="Of those, logged missed.")
    pending: int = Field(description="Of those, still waiting for an answer.")
    median_answer_ms: int | None = Field(
        description="The median time to answer, in milliseconds; `null` if none was answered."
    )


class Availability(BaseModel):
    """Each party's answers to liveness checks requested in a time range."""

    since: Time = Field(description="The range's start: checks requested at or after it.")
    until: Time = Field(description="The range's end: checks requested before it.")
    parties: list[PartyAvailability] = Field(description="The channel's two parties.")


class Conflict(BaseModel):
    """Two planned activities in one area at once (`conflict.detected`), until resolved."""

    id: UUID = Field(description="The conflict's id (the same for the same two notices).")
    channel: str = Field(description="The channel's id.")
    notices: list[UUID] = Field(
        min_length=2,
        max_length=2,
        description="The two notices: the one sent earlier, then the one that revealed it.",
    )
    area: str = Field(description="The area as compared: its label, normalised.")
    overlap: ActivityWindow = Field(description="When the two activities overlap.")
    detected_seq: int = Field(description="Sequence number of its `conflict.detected` event.")
    detected_at: Time = Field(description="Server time of the detection.")
    resolved_seq: int | None = Field(
        None, description="Sequence number of its `conflict.resolved` event, if resolved."
    )
    resolved_at: Time | None = Field(None, description="Server time of the resolution, if any.")


# -- Webhooks and the delivery log (docs/how-to/receive-webhooks.md) -----------------------

MAX_OVERLAP_SECONDS = 30 * 24 * 3600
"""The longest a rotated-out webhook secret may go on signing: 30 days."""


def _ipv6_pattern() -> str:
    """IPv6 addresses as RFC 4291 §2.2 writes them (no embedded IPv4): eight groups, or
    fewer with one ``::`` standing for the zero groups left out."""
    group = "[0-9A-Fa-f]{1,4}"
    forms = [f"(?:{group}:){{7}}{group}"]
    for before in range(8):
        for after in range(8 - before):
            head = f"(?:{group}:){{{before}}}" if before else ":"
            tail = f"(?::{group}){{{after}}}" if after else ":"
            forms.append(head + tail)
    return "|".join(forms)


_HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}"
WEBHOOK_URL_PATTERN = (
    "^[Hh][Tt][Tt][Pp][Ss]?://"
    rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[(?:{_ipv6_pattern()})\])"
    rf"(?::(?:{_PORT}))?"
    r"(?:[/?][\x21\x22\x24-\x7e]*)?$"
)
"""The form of a webhook URL the server takes (``server/domain/address_guard.py``): http or
https; a host name (or IPv4 address) or an IPv6 address in brackets; a port if any; then
printable ASCII, no space, no user name or password, no ``#fragment``. Where the host
leads (public addresses only) is checked when it is resolved, not here."""
_WEBHOOK_URL = (
    "Where to `POST` each event: `http://` or `https://`, a host (an IPv6 address in "
    "brackets), a port if any, then printable ASCII (RFC 3986: percent-encode the rest); "
    "no user name or password, no `#fragment`. Its host must resolve to public addresses "
    "only (unless the server's administrator allowed a network), checked now and before "
    "every call."
)


class WebhookRequest(BaseModel):
    """A new webhook subscription: where to call, and for which events."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://ops.water.example/hotline/events",
                    "types": ["notice.sent", "notice.overdue", "notice.escalated"],
                },
                {"url": "https://ops.water.example/hotline/everything"},
            ]
        },
    )

    url: Annotated[str, Documented(WEBHOOK_URL_PATTERN)] = Field(
        min_length=1, max_length=2000, description=_WEBHOOK_URL
    )
    types: list[EventType] = Field(
        default_factory=list,
        max_length=100,
        description="The event types to send; empty or left out: every type.",
    )


class WebhookChange(BaseModel):
    """A change to a webhook subscription; what is left out stays as it is."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"enabled": True},
                {"url": "https://ops.water.example/hotline/v2", "types": []},
            ]
        },
    )

    url: Annotated[str, Documented(WEBHOOK_URL_PATTERN)] | None = Field(
        None, min_length=1, max_length=2000, description="A new URL, checked as at creation."
    )
    types: list[EventType] | None = Field(
        None, max_length=100, description="New event types; `[]`: every type."
    )
    enabled: StrictBool | None = Field(
        None,
        description="`false` stops the calls; `true` starts them again and clears the "
        "failures counted and the reason it was disabled.",
    )


class Webhook(BaseModel):
    """A party's webhook subscription (its secret is never shown again)."""

    id: UUID = Field(description="The subscription's id.")
    channel: str = Field(description="The channel whose events it is sent.")
    party: str = Field(description="The party it belongs to.")
    url: str = Field(description="Where each event is `POST`ed.")
    types: list[str] = Field(description="The event types it is sent; empty: every type.")
    enabled: bool = Field(description="Whether it is called.")
    failures: int = Field(
        description="Deliveries given up in a row (each after all its tries, or refused for "
        "good); a call that goes through resets it."
    )
    disabled_reason: str | None = Field(
        description="Why it was disabled (deliveries given up, with the last error in full; "
        "`410 Gone`; or by whom); `null` otherwise."
    )
    previous_secret_until: Time | None = Field(
        description="After a rotation, until when the previous secret also signs; `null` "
        "when only one secret signs."
    )
    created_at: Time = Field(description="Server time of its creation.")
    created_by: str = Field(description="The admin who created it.")


class WebhookCreated(Webhook):
    """A new subscription, with its signing secret: shown this once."""

    secret: str = Field(
        description="The signing secret, `whsec_…` (Standard Webhooks): keep it where the "
        "receiver can read it. It is not shown again; rotate to get a new one."
    )


class RotateRequest(BaseModel):
    """How long the secret being replaced goes on signing beside the new one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"overlap_seconds": 86400}, {"overlap_seconds": 0}]},
    )

    overlap_seconds: Integer = Field(
        86_400,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="Seconds during which each call carries two signatures, one with each "
        "secret, so the receiver can switch at its pace; `0`: the old secret stops now.",
    )


class RotatedSecret(BaseModel):
    """A subscription's new signing secret: shown this once."""

    secret: str = Field(description="The new signing secret, `whsec_…`.")
    previous_secret_until: Time | None = Field(
        description="Until when the previous secret also signs; `null`: it stopped now."
    )


class DeliveryAttempt(BaseModel):
    """One try at a delivery."""

    at: Time = Field(description="When it was made.")
    ok: bool = Field(description="Whether it went through.")
    status_code: int | None = Field(
        description="The receiver's HTTP status (webhooks), or the SMTP reply code (mail), "
        "if there was an answer."
    )
    error: str | None = Field(description="Why it failed, if it did.")
    duration_ms: int = Field(description="How long it took, in milliseconds.")


class Delivery(BaseModel):
    """Something the server sends outside its sockets because of an event: a webhook call or
    a mail, tried until it goes through or is given up."""

    id: UUID = Field(
        description="Stable: the `webhook-id` header of every try, or the mail's `Message-ID`."
    )
    kind: Literal["webhook", "mail"] = Field(description="How it leaves the server.")
    channel: str = Field(description="The channel's id.")
    seq: int = Field(description="The sequence number of the event that caused it.")
    event_type: str = Field(description="That event's type.")
    target: str = Field(
        description="A webhook's id; for mail `operator:<id>` (one operator) or `party:<id>` "
        "(its operators)."
    )
    status: Literal["waiting", "delivered", "failed", "skipped"] = Field(
        description="`waiting` (to be tried, or tried again, at `next_attempt_at`), "
        "`delivered`, `failed` (given up) or `skipped` (nothing to send)."
    )
    next_attempt_at: Time = Field(description="When it is (or was last) due to be tried.")
    created_at: Time = Field(description="When it was committed, with its event.")
    finished_at: Time | None = Field(description="When it was delivered, given up or skipped.")
    last_error: str | None = Field(description="Why the last try failed, or why it was given up.")
    attempts: list[DeliveryAttempt] = Field(description="Every try, oldest first.")


class DeliveryPage(BaseModel):
    """One page of deliveries, newest event first."""

    items: list[Delivery] = Field(description="The deliveries on this page.")
    next_before: str | None = Field(
        description="Pass as `before` to get the next page; `null` on the last page."
    )
