"""Operators' signatures on what they say: notices and decisions (guarantee 8).

An operator signs with its own Ed25519 key, in the key formats of ``note.py``; the key's
name is the operator's id. What it signs is written down once, here, and can be computed
three ways that must agree: by the client from what it is about to send, by the server
from the command, and by anyone from the event exactly as the log serves it. Those bytes
are the RFC 8785 canonical JSON of::

    {"channel": "water-roads", "type": "notice.sent", "party": "water",
     "operator": "ana", "notice": "6f1c…", "subject": "…", "body": "…",
     "priority": "routine", "activity": {"starts_at": "…Z", "ends_at": "…Z"},
     "area": "…", "ack_required": true, "refers_to": null, "client_time": "…Z"}

that is the channel, the event's type, the party the operator speaks for, the operator,
and the fields of the event's ``data`` that the client chose (:data:`SIGNED_FIELDS`), in
their wire form. The party is signed so that the signature itself says who spoke: a
server cannot log an operator's words as another party's. Nothing the
server chooses (``at``, ``seq``, ``ack_due_at``) is signed: the operator vouches for what
it said, the log for when. A decision signs ``notice``, ``reason`` and ``client_time``
under the type ``notice.acknowledged`` or ``notice.objected``, so that one can never
pass for the other. Receipts and cancellations are not signed.

A notice's ``bbox`` and ``attachments`` came to the protocol later
(:data:`OPTIONAL_SIGNED_FIELDS`): each is signed only when the notice has one, so that the
signatures made before them still verify. An ``attachments`` list names each file by its
SHA-256, so a signed notice vouches for the very bytes of the files it carries.

A signature travels, and is kept in the event's ``data["signature"]``, as the base64 of
the key's 4-byte id followed by the 64-byte Ed25519 signature, like a signature line of a
signed note.

Operators make their keys known in the log itself, with ``operator.key_registered``
events. :func:`check_signatures` walks a log in order and checks every signed event
against the key its operator had registered last before it, for the same party. The log
alone links a key to a person only as far as the server is honest: a server could
register a key of its own in an operator's name. A checker that got an operator's key
out of band (read aloud, compared as a fingerprint) passes it as ``pinned``, and then a
key in the log that it did not pin is a failure.

Exceptions::

    ValueError
     └── SignatureError    a signature that is malformed, by another key, or false
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from client.protocol.canonical import canonical_json
from client.protocol.note import NoteError, Signer, Verifier
from client.protocol.schemas import DecisionRequest, NoticeDraft
from client.protocol.vocabulary import Decision, EventType

__all__ = [
    "OPTIONAL_SIGNED_FIELDS",
    "SIGNED_FIELDS",
    "EventCheck",
    "SignatureError",
    "SignatureReport",
    "check_signatures",
    "decision_content",
    "event_content",
    "notice_content",
    "sign",
    "sign_decision",
    "sign_draft",
    "signed_content",
    "verify",
]

SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    EventType.NOTICE_SENT: (
        "notice",
        "subject",
        "body",
        "priority",
        "activity",
        "area",
        "ack_required",
        "refers_to",
        "client_time",
    ),
    EventType.NOTICE_ACKNOWLEDGED: ("notice", "reason", "client_time"),
    EventType.NOTICE_OBJECTED: ("notice", "reason", "client_time"),
}
"""By event type, the fields of the event's ``data`` that its operator signs."""

OPTIONAL_SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    EventType.NOTICE_SENT: ("bbox", "attachments"),
}
"""Fields signed only when the event's ``data`` has them, not ``null`` and not an empty list:
added to the protocol later, so that the signatures made before them still verify. (A
notice without files is sent with ``"attachments": []`` and logged without the member:
both sign the same bytes.)"""

_KEY_ID_SIZE = 4
_SIGNATURE_SIZE = 64


class SignatureError(ValueError):
    """A signature cannot be accepted; ``reason`` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signed_content(
    *, channel: str, event_type: str, party: str, operator: str, data: Mapping[str, Any]
) -> bytes:
    """The bytes an operator signs for an event of ``event_type``.

    Args:
        channel: The channel's id.
        event_type: ``notice.sent``, ``notice.acknowledged`` or ``notice.objected``.
        party: The party the operator speaks for (the event's ``actor.party``).
        operator: The signing operator's id (the name of its key).
        data: The event's ``data`` as on the wire; only :data:`SIGNED_FIELDS` are read,
            and a missing one counts as ``null``; then those of
            :data:`OPTIONAL_SIGNED_FIELDS` that it has and are neither ``null`` nor ``[]``.

    Raises:
        ValueError: ``event_type`` is not one that operators sign.
    """
    try:
        names = SIGNED_FIELDS[event_type]
    except KeyError:
        raise ValueError(f"{event_type} events are not signed") from None
    content = {name: data.get(name) for name in names}
    content.update(
        {
            name: data[name]
            for name in OPTIONAL_SIGNED_FIELDS.get(event_type, ())
            if data.get(name) is not None and data.get(name) != []
        }
    )
    return canonical_json(
        {
            "channel": channel,
            "type": str(event_type),
            "party": party,
            "operator": operator,
            **content,
        }
    )


def event_content(event: Mapping[str, Any]) -> bytes:
    """The bytes its operator signed for ``event``, a log entry exactly as served (JSON).

    Raises:
        ValueError: the event is not of a signed type, or has no party and operator.
    """
    actor = event.get("actor")
    if (
        not isinstance(actor, Mapping)
        or not isinstance(actor.get("party"), str)
        or not isinstance(actor.get("operator"), str)
    ):
        raise ValueError("an event without a party and an operator is not signed")
    return signed_content(
        channel=event["channel"],
        event_type=event["type"],
        party=actor["party"],
        operator=actor["operator"],
        data=event["data"],
    )


def notice_content(draft: NoticeDraft, *, channel: str, party: str, operator: str) -> bytes:
    """The bytes to sign to send ``draft`` on ``channel``, computed by the sending client."""
    wire = draft.model_dump(mode="json", exclude={"signature"})
    wire["notice"] = wire.pop("id")
    return signed_content(
        channel=channel,
        event_type=EventType.NOTICE_SENT,
        party=party,
        operator=operator,
        data=wire,
    )


def decision_content(
    request: DecisionRequest, *, channel: str, party: str, notice: UUID, operator: str
) -> bytes:
    """The bytes to sign to decide on ``notice``, computed by the deciding client."""
    wire = request.model_dump(mode="json", include={"reason", "client_time"})
    event_type = (
        EventType.NOTICE_ACKNOWLEDGED
        if request.decision is Decision.ACKNOWLEDGED
        else EventType.NOTICE_OBJECTED
    )
    return signed_content(
        channel=channel,
        event_type=event_type,
        party=party,
        operator=operator,
        data={**wire, "notice": str(notice)},
    )


def sign(signer: Signer | str, content: bytes) -> str:
    """Sign ``content``: the base64 of the key id and the Ed25519 signature.

    Args:
        signer: The operator's signer key, parsed or as its ``PRIVATE+KEY+…`` string.
        content: What :func:`signed_content` (or one of its shorthands) returned.

    Raises:
        NoteError: ``signer`` is not a well-formed signer key.
    """
    key = signer if isinstance(signer, Signer) else Signer.parse(signer)
    return base64.b64encode(key.key_id + key.sign(content)).decode("ascii")


def verify(verifier: Verifier | str, content: bytes, signature: str) -> None:
    """Check that ``signature`` is ``verifier``'s signature of ``content``.

    Raises:
        SignatureError: the signature is malformed, made with another key, or false.
        NoteError: ``verifier`` is not a well-formed verifier key.
    """
    key = verifier if isinstance(verifier, Verifier) else Verifier.parse(verifier)
    raw = _decode(signature)
    key_id, value = raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]
    if key_id != key.key_id:
        raise SignatureError(
            f"unknown key: signed with key {key_id.hex()}, but the key in force is "
            f"{key.key_id.hex()}"
        )
    if not key.verify(content, value):
        raise SignatureError("bad signature: it does not match the signed content")


def _decode(signature: str) -> bytes:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    # Only the one canonical spelling: the stored text is what an auditor re-reads.
    canonical = base64.b64encode(raw).decode("ascii") == signature
    if not canonical or len(raw) != _KEY_ID_SIZE + _SIGNATURE_SIZE:
        raise SignatureError("malformed signature: not base64 of a 4-byte key id and 64 bytes")
    return raw


def sign_draft(
    draft: NoticeDraft, *, channel: str, party: str, signer: Signer | str
) -> NoticeDraft:
    """A copy of ``draft`` signed by ``signer`` for ``party`` on ``channel``.

    The key's name is the operator; ``party`` is the one the operator belongs to.
    """
    key = signer if isinstance(signer, Signer) else Signer.parse(signer)
    content = notice_content(draft, channel=channel, party=party, operator=key.name)
    return draft.model_copy(update={"signature": sign(key, content)})


def sign_decision(
    request: DecisionRequest, *, channel: str, party: str, notice: UUID, signer: Signer | str
) -> DecisionRequest:
    """A copy of ``request`` signed by ``signer`` for ``party``; the key names the operator."""
    key = signer if isinstance(signer, Signer) else Signer.parse(signer)
    content = decision_content(
        request, channel=channel, party=party, notice=notice, operator=key.name
    )
    return request.model_copy(update={"signature": sign(key, content)})


# -- checking a whole log -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventCheck:
    """What :func:`check_signatures` found for one event of a signed type."""

    seq: int
    type: str
    operator: str | None
    status: Literal["valid", "unsigned", "failed"]
    reason: str | None = None
    """Why it failed; ``None`` unless ``status`` is ``failed``."""


@dataclass
class SignatureReport:
    """The signatures of a log, checked in order against the keys it registers.

    Attributes:
        signed: Events whose signature verifies with their operator's key in force.
        unsigned: Events of a signed type that carry no signature.
        failures: ``(seq, reason)`` of every signature that does not verify, and of every
            key registration that cannot be used or that contradicts a pinned key.
        keys: By operator, the verifier keys it registered, in log order.
        registrations: ``(seq, operator, verifier key)`` of every well-formed key
            registration, in log order: every change of key, for a person to look at.
        checks: One entry per event of a signed type, in log order.
    """

    signed: int = 0
    unsigned: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    keys: dict[str, list[str]] = field(default_factory=dict)
    registrations: list[tuple[int, str, str]] = field(default_factory=list)
    checks: list[EventCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing failed (unsigned events are not failures)."""
        return not self.failures


@dataclass(frozen=True, slots=True)
class _InForce:
    """An operator's key in force on a channel, and what its registration said."""

    party: str
    key: Verifier
    pinned: bool


def check_signatures(
    events: Iterable[Mapping[str, Any]], *, pinned: Mapping[str, Sequence[str]] | None = None
) -> SignatureReport:
    """Check every operator signature of a log against the keys the log registers.

    Each operator's key is learnt from its ``operator.key_registered`` events; the key
    that checks an event is the one its operator registered last before it, and the
    registration's party must be the event's. Registering a new key does not make earlier
    signatures wrong, but from then on only the new key counts.

    The log alone says which key is an operator's only as far as the server is honest.
    ``pinned`` adds what the checker learnt out of band: for an operator it names, a
    registration of any other key is a failure, and so is every event signed with it.

    Args:
        events: The log in order, each event a JSON object exactly as served.
        pinned: By operator id, the verifier keys the checker got from that operator
            itself; operators it does not name are checked against the log alone.

    Returns:
        The counts, the failures, the keys seen and every registration.

    Raises:
        NoteError: a pinned key is not a well-formed verifier key.
        ValueError: a pinned key is not named after the operator it is pinned for.
    """
    pins = _pins(pinned or {})
    report = SignatureReport()
    in_force: dict[tuple[str, str], _InForce] = {}
    for event in events:
        seq, kind = event["seq"], event["type"]
        actor = event.get("actor")
        party = actor.get("party") if isinstance(actor, Mapping) else None
        operator = actor.get("operator") if isinstance(actor, Mapping) else None
        if kind == EventType.OPERATOR_KEY_REGISTERED:
            try:
                party, key = _registered_key(event, party, operator)
            except ValueError as error:
                report.failures.append((seq, str(error)))
                continue
            known = key.name not in pins or str(key) in pins[key.name]
            if not known:
                report.failures.append(
                    (seq, f"the log registers a key for {key.name} that you did not pin: {key}")
                )
            in_force[(event["channel"], key.name)] = _InForce(party, key, known)
            report.keys.setdefault(key.name, []).append(str(key))
            report.registrations.append((seq, key.name, str(key)))
            continue
        if kind not in SIGNED_FIELDS:
            continue
        check = _check_event(event, party, operator, in_force)
        report.checks.append(check)
        if check.status == "valid":
            report.signed += 1
        elif check.status == "unsigned":
            report.unsigned += 1
        else:
            report.failures.append((seq, check.reason or "failed"))
    return report


def _pins(pinned: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """The pinned keys in their one spelling, each checked to be named after its operator."""
    pins: dict[str, set[str]] = {}
    for operator, keys in pinned.items():
        parsed = [Verifier.parse(key) for key in keys]
        for key in parsed:
            if key.name != operator:
                raise ValueError(f"the key {key} is pinned for {operator}, but named {key.name}")
        pins[operator] = {str(key) for key in parsed}
    return pins


def _registered_key(
    event: Mapping[str, Any], party: str | None, operator: str | None
) -> tuple[str, Verifier]:
    data = event["data"]
    try:
        key = Verifier.parse(data["verifier_key"])
    except (KeyError, TypeError, NoteError) as error:
        raise ValueError(f"malformed key: {error}") from None
    if operator is None or key.name != operator or data.get("operator") != operator:
        raise ValueError(f"key name {key.name} is not the registering operator {operator}")
    if not isinstance(party, str):
        raise ValueError(f"the registration of a key of {operator} names no party")
    return party, key


def _check_event(
    event: Mapping[str, Any],
    party: str | None,
    operator: str | None,
    in_force: Mapping[tuple[str, str], _InForce],
) -> EventCheck:
    seq, kind = event["seq"], event["type"]
    signature = event["data"].get("signature")
    if signature is None:
        return EventCheck(seq, kind, operator, "unsigned")
    if operator is None or party is None:
        reason = "signed, but the event names no party and operator"
        return EventCheck(seq, kind, operator, "failed", reason)
    found = in_force.get((event["channel"], operator))
    if found is None:
        reason = f"unknown key: operator {operator} had registered no key"
        return EventCheck(seq, kind, operator, "failed", reason)
    if found.party != party:
        reason = f"key of {operator} was registered for party {found.party}, not {party}"
        return EventCheck(seq, kind, operator, "failed", reason)
    if not found.pinned:
        reason = f"unpinned key: the key of {operator} in force is not one you pinned"
        return EventCheck(seq, kind, operator, "failed", reason)
    try:
        if not isinstance(signature, str):
            raise SignatureError("malformed signature: not a string")
        verify(found.key, event_content(event), signature)
    except SignatureError as error:
        return EventCheck(seq, kind, operator, "failed", error.reason)
    return EventCheck(seq, kind, operator, "valid")
