"""Conflicting plans: two activities in one area at one time, found as a pure function.

A notice with an activity window and an area is a *plan*. Two plans conflict when

- their areas name the same place: the labels are equal once spaces and case are
  normalised (:func:`area_key`: "Mill Lane" and " mill  lane" are one place), and, when
  both carry a bounding box, the boxes intersect (two boxes that share only an edge or a
  corner do intersect: a crew at the corner of two streets is in both);
- their windows share some time: windows are half-open, ``[starts_at, ends_at)``, so one
  that ends as the other starts does not overlap it (the day crew hands over to the night
  crew);
- neither is the other, and neither updates the other (an update, a notice of the same
  party that refers to the other, and the notice it updates are one plan told twice; a
  reply of the other party with a window of its own is a plan of its own).

:func:`overlap` is symmetric and never finds a plan in conflict with itself; the tests in
``tests/unit/test_conflicts.py`` check those properties on generated plans.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from server.domain.model import ActivityWindow, BoundingBox, Notice

__all__ = [
    "CONFLICT_NAMESPACE",
    "Plan",
    "area_key",
    "conflict_id",
    "conflicts_with",
    "overlap",
    "plan_of",
    "still_active",
]

CONFLICT_NAMESPACE = UUID("5b0e3f64-2c55-4c42-9b1e-6f1a0c7d2e91")
"""The namespace of conflict ids: a conflict's id is a UUIDv5 of its two notices."""


def area_key(label: str) -> str:
    """The place an area label names, however it is typed: trimmed, one space, case folded."""
    return " ".join(label.split()).casefold()


@dataclass(frozen=True, slots=True)
class Plan:
    """What a notice plans: where and when, and which notice it updates, if any."""

    notice_id: UUID
    sender_party: str
    area: str
    """The normalised label (:func:`area_key`)."""
    window: ActivityWindow
    bbox: BoundingBox | None = None
    refers_to: UUID | None = None


def plan_of(notice: Notice) -> Plan | None:
    """The plan a notice announces, or ``None`` if it has no window or no area."""
    content = notice.content
    if content.activity is None or content.area is None:
        return None
    return Plan(
        notice_id=notice.id,
        sender_party=notice.sender_party,
        area=area_key(content.area),
        window=content.activity,
        bbox=content.bbox,
        refers_to=content.refers_to,
    )


def overlap(a: Plan, b: Plan) -> ActivityWindow | None:
    """The time two plans share in one place, or ``None`` if they do not conflict."""
    if a.notice_id == b.notice_id or _updates(a, b) or _updates(b, a):
        return None
    if a.area != b.area:
        return None
    if a.bbox is not None and b.bbox is not None and not _intersect(a.bbox, b.bbox):
        return None
    starts = max(a.window.starts_at, b.window.starts_at)
    ends = min(a.window.ends_at, b.window.ends_at)
    if ends <= starts:  # half-open windows: touching ends share no time
        return None
    return ActivityWindow(starts, ends)


def conflicts_with(new: Plan, active: Iterable[Plan]) -> list[tuple[Plan, ActivityWindow]]:
    """The active plans ``new`` conflicts with, each with the time they share."""
    found = []
    for plan in active:
        shared = overlap(plan, new)
        if shared is not None:
            found.append((plan, shared))
    return found


def still_active(plan: Plan, now: datetime) -> bool:
    """Whether a plan's window has not ended yet: only those are compared with new ones."""
    return plan.window.ends_at > now


def conflict_id(earlier: UUID, later: UUID) -> UUID:
    """The id of the conflict between two notices: the same whoever computes it."""
    return uuid.uuid5(CONFLICT_NAMESPACE, f"{earlier}/{later}")


def _updates(later: Plan, earlier: Plan) -> bool:
    # The same party's plan told again; the other party's reply is a plan of its own
    # (``rules.replaces`` says the same of the plans that stay active).
    return later.refers_to == earlier.notice_id and later.sender_party == earlier.sender_party


def _intersect(a: BoundingBox, b: BoundingBox) -> bool:
    if a.north < b.south or b.north < a.south:
        return False
    return any(
        _spans_meet(span_a, span_b) for span_a in _longitudes(a) for span_b in _longitudes(b)
    )


def _spans_meet(a: tuple[float, float], b: tuple[float, float]) -> bool:
    (lo_a, hi_a), (lo_b, hi_b) = a, b
    if lo_a <= hi_b and lo_b <= hi_a:
        return True
    # 180 and -180 are one meridian: a span that ends on it meets one that begins there.
    return (hi_a == 180 and lo_b == -180) or (hi_b == 180 and lo_a == -180)


def _longitudes(box: BoundingBox) -> list[tuple[float, float]]:
    # RFC 7946 §5.2: a box whose west is east of its east crosses the antimeridian, so it
    # is two spans of longitude, one on each side.
    if box.west <= box.east:
        return [(box.west, box.east)]
    return [(box.west, 180.0), (-180.0, box.east)]
