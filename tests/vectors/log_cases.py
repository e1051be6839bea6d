"""Log vectors: events and their leaves, compact ranges, origins."""

from __future__ import annotations

from typing import Any

from client.protocol import merkle
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from tests.vectors.common import b64
from tests.vectors.merkle_cases import TREE_SIZE, leaf_hashes

NOTICE = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f"

EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "a notice sent",
        {
            "channel": "water-roads",
            "seq": 1,
            "type": "notice.sent",
            "at": "2026-11-21T05:18:57.997Z",
            "actor": {"party": "water", "operator": "ana"},
            "data": {
                "ack_due_at": "2026-11-24T05:18:57.997Z",
                "ack_required": True,
                "activity": {
                    "ends_at": "2026-11-26T05:18:57.000Z",
                    "starts_at": "2026-11-24T05:18:57.000Z",
                },
                "area": "Mill Lane, numbers 2-40",
                "body": "Open trench on the north side; one lane closed, with traffic lights.",
                "client_time": None,
                "notice": NOTICE,
                "priority": "routine",
                "refers_to": None,
                "subject": "Water main renewal, Mill Lane",
            },
        },
    ),
    (
        "a notice received",
        {
            "channel": "water-roads",
            "seq": 2,
            "type": "notice.received",
            "at": "2026-11-21T05:18:58.259Z",
            "actor": {"party": "roads", "operator": "carla"},
            "data": {"notice": NOTICE},
        },
    ),
    (
        "a notice objected to, with the keys in another order",
        {
            "data": {
                "reason": "We resurface Mill Lane that week.",
                "notice": NOTICE,
                "client_time": None,
            },
            "actor": {"operator": "dev", "party": "roads"},
            "at": "2026-11-21T05:20:00.000Z",
            "type": "notice.objected",
            "seq": 3,
            "channel": "water-roads",
        },
    ),
    (
        "a notice overdue: the server acts, no actor",
        {
            "channel": "water-roads",
            "seq": 4,
            "type": "notice.overdue",
            "at": "2026-11-24T05:19:00.012Z",
            "actor": None,
            "data": {"due_at": "2026-11-24T05:18:57.997Z", "notice": NOTICE},
        },
    ),
    (
        "text that JSON must escape, and text beyond ASCII",
        {
            "channel": "water-roads",
            "seq": 5,
            "type": "notice.sent",
            "at": "2026-11-25T08:00:00.000Z",
            "actor": {"party": "roads", "operator": "dev"},
            "data": {
                "body": 'Line one\nLine two\t"quoted" \\ back\u2028slash \U0001f6a7',
                "subject": "Caf\u00e9 Stra\u00dfe: r\u00e9fection \N{EM DASH} \u6c34\u9053",
                "area": "\u00c5sgatan 7",
            },
        },
    ),
    (
        "a type this client does not know, with numbers",
        {
            "channel": "water-roads",
            "seq": 6,
            "type": "sensor.reading",
            "at": "2026-11-25T08:00:01.000Z",
            "actor": None,
            "data": {
                "litres": 1250,
                "pressure": 4.5,
                "ratio": 0.1,
                "huge": 1e21,
                "tiny": 1e-7,
                "list": [3, 1, 2],
            },
        },
    ),
]


def log_vectors() -> dict[str, Any]:
    leaves = leaf_hashes()
    ranges = []
    running = CompactRange()
    for size in range(TREE_SIZE + 1):
        ranges.append(running.to_json())
        if size < TREE_SIZE:
            running.append(leaves[size])
    assert CompactRange.from_json(ranges[-1]).root() == merkle.root_hash(leaves)
    events = [
        {
            "name": name,
            "event": event,
            "canonical": leaf_bytes(event).decode("utf-8"),
            "leaf_hash": b64(event_hash(event)),
        }
        for name, event in EVENTS
    ]
    event_leaves = [event_hash(event) for _, event in EVENTS]
    return {
        "about": (
            "events: {name, event, canonical, leaf_hash}: an event's leaf is the UTF-8 of its "
            "canonical JSON, hashed as a Merkle leaf; events_root is the root of the tree of "
            "these events in order. compact_ranges[n]: the compact range of the first n "
            "leaves of merkle.json, as CompactRange.to_json() writes it. origins: {log_name, "
            "channel, origin}."
        ),
        "events": events,
        "events_root": b64(merkle.root_hash(event_leaves)),
        "compact_ranges": ranges,
        "origins": [
            {"log_name": log_name, "channel": channel, "origin": origin(log_name, channel)}
            for log_name, channel in [
                ("hotline.localhost", "water-roads"),
                ("hotline.example/city", "water-roads"),
            ]
        ],
    }
