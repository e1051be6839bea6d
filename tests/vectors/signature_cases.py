"""Signing vectors: the bytes an operator signs for an event, as ``signed_content`` makes them.

A notice's ``bbox`` and ``attachments`` are signed only when present, not null and not an
empty list (``OPTIONAL_SIGNED_FIELDS``), so that the signatures made before them existed
still verify; the JavaScript SDK's ``signatures.js`` must
build the very same bytes for every case here.
"""

from __future__ import annotations

from typing import Any

from client.protocol.schemas import NoticeDraft
from client.protocol.signatures import notice_content, signed_content
from tests.vectors.common import Vector, b64

NOTICE = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f"

SENT: dict[str, Any] = {
    "notice": NOTICE,
    "subject": "Water main renewal, Mill Lane",
    "body": "Open trench on the north side; one lane closed, with traffic lights.",
    "priority": "important",
    "activity": {"starts_at": "2026-11-24T07:00:00.000Z", "ends_at": "2026-11-26T17:00:00.000Z"},
    "area": "Mill Lane",
    "ack_required": True,
    "refers_to": None,
    "client_time": "2026-11-21T05:18:57.000Z",
    # Fields the server adds, or the signature itself: never signed.
    "ack_due_at": "2026-11-24T05:18:57.997Z",
    "signature": "AAAAAA==",
}

PLAN: dict[str, Any] = {
    "sha256": "3b2c8f0e4a1d6b9c7e5f2a0d8c6b4e1f9a7d5c3b1e0f2a4c6d8e9f1a3b5c7d9e",
    "size": 48213,
    "media_type": "application/pdf",
    "name": "Mill Lane traffic plan — rev B.pdf",
}
MAP: dict[str, Any] = {
    "sha256": "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
    "size": 912,
    "media_type": "application/geo+json",
    "name": "closure.geojson",
}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("a notice without a bbox signs what it signed before bboxes", "notice.sent", SENT),
    ("a bbox of null is not signed", "notice.sent", {**SENT, "bbox": None}),
    (
        "a bbox is signed when present",
        "notice.sent",
        {**SENT, "bbox": [-0.1275, 51.5072, -0.1201, 51.5111]},
    ),
    (
        "a bbox's numbers in their one spelling: -0.0 as 0, whole floats bare, 1e-7",
        "notice.sent",
        {**SENT, "bbox": [-0.0, -90.0, 1e-7, 90]},
    ),
    (
        "a bbox across the antimeridian (west greater than east)",
        "notice.sent",
        {**SENT, "bbox": [179.5, -17.2, -179.8, -16.5]},
    ),
    (
        "fields a notice does not sign are missing as null, and ones it does not know ignored",
        "notice.sent",
        {"notice": NOTICE, "subject": "Hydrant flushing, Elm Street", "colour": "red"},
    ),
    (
        "attachments are signed when present, in their order, names beyond ASCII as they are",
        "notice.sent",
        {**SENT, "attachments": [PLAN, MAP]},
    ),
    ("an empty attachments list is not signed", "notice.sent", {**SENT, "attachments": []}),
    ("attachments of null are not signed", "notice.sent", {**SENT, "attachments": None}),
    (
        "a bbox and attachments together",
        "notice.sent",
        {**SENT, "bbox": [-0.1275, 51.5072, -0.1201, 51.5111], "attachments": [MAP]},
    ),
    (
        "an acknowledgement",
        "notice.acknowledged",
        {"notice": NOTICE, "reason": None, "client_time": "2026-11-21T06:00:00.000Z"},
    ),
    (
        "an objection, with a reason beyond ASCII; a bbox is no field of a decision",
        "notice.objected",
        {
            "notice": NOTICE,
            "reason": "We resurface Mill Lane that week — ask Dev ☎",
            "client_time": None,
            "bbox": [0, 0, 1, 1],
        },
    ),
]


DRAFTS: list[tuple[str, dict[str, Any]]] = [
    (
        "a draft that says little signs the defaults it is sent with",
        {"id": NOTICE, "subject": "Hydrant flushing, Elm Street"},
    ),
    (
        "a draft with a bbox signs it; the signature itself is not signed",
        {
            "id": NOTICE,
            "subject": "Water main renewal, Mill Lane",
            "body": "Open trench on the north side.",
            "priority": "urgent",
            "activity": {
                "starts_at": "2026-11-24T07:00:00.000Z",
                "ends_at": "2026-11-26T17:00:00.000Z",
            },
            "area": "Mill Lane",
            "bbox": [-0.1275, 51.5072, -0.1201, 51.5111],
            "ack_required": False,
            "refers_to": "0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10",
            "client_time": "2026-11-21T05:18:57.000Z",
            "signature": "AAAAAA==",
        },
    ),
    (
        "a draft with attachments signs them",
        {
            "id": NOTICE,
            "subject": "Water main renewal, Mill Lane",
            "attachments": [PLAN, MAP],
        },
    ),
    (
        "a draft with an empty attachments list signs what a draft without one signs",
        {"id": NOTICE, "subject": "Hydrant flushing, Elm Street", "attachments": []},
    ),
]


def signature_vectors() -> dict[str, Any]:
    """The bytes to sign for each case, with what they are made from."""
    vectors: list[Vector] = []
    for name, event_type, data in CASES:
        party, operator = ("water", "ana") if event_type == "notice.sent" else ("roads", "dev")
        content = signed_content(
            channel="water-roads",
            event_type=event_type,
            party=party,
            operator=operator,
            data=data,
        )
        vectors.append(
            {
                "name": name,
                "channel": "water-roads",
                "event_type": event_type,
                "party": party,
                "operator": operator,
                "data": data,
                "content": b64(content),
            }
        )
    drafts: list[Vector] = []
    for name, draft in DRAFTS:
        content = notice_content(
            NoticeDraft.model_validate(draft), channel="water-roads", party="water", operator="ana"
        )
        drafts.append(
            {
                "name": name,
                "channel": "water-roads",
                "party": "water",
                "operator": "ana",
                "draft": draft,
                "content": b64(content),
            }
        )
    return {
        "about": "The bytes an operator signs, base64: `vectors` by signed_content(channel, "
        "event_type, party, operator, data), a notice.sent's bbox and attachments only when "
        "present, not null and not an empty list; `drafts` by notice_content(draft) for a "
        "NoticeDraft as the client sends it",
        "vectors": vectors,
        "drafts": drafts,
    }
