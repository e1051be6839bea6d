"""Conflicting plans: two activities in one place at one time, found by a pure function.

The properties are checked on generated plans: :func:`overlap` is symmetric, never finds a
plan in conflict with itself, lets windows that only touch pass, and finds a shared time
that lies within both windows. Whether two bounding boxes meet is checked against a
second, independent reading of RFC 7946 §5.2 (longitudes as arcs on a circle, where 180
and -180 are one meridian). Then a few worked examples on Mill Lane.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client.protocol.vocabulary import Priority
from server.domain.conflicts import (
    Plan,
    area_key,
    conflict_id,
    conflicts_with,
    overlap,
    plan_of,
    still_active,
)
from server.domain.model import ActivityWindow, BoundingBox
from tests.unit.builders import (
    NOTICE_ID,
    NOW,
    OTHER_ID,
    ROADS_OPERATOR,
    WATER_OPERATOR,
    content,
    sent,
)

# -- Generated plans --------------------------------------------------------------------------

MINUTE = timedelta(minutes=1)


@st.composite
def windows(draw: st.DrawFn) -> ActivityWindow:
    """A window of whole minutes within a week or so of ``NOW``."""
    start = draw(st.integers(-5_000, 5_000))
    length = draw(st.integers(1, 3_000))
    return ActivityWindow(NOW + start * MINUTE, NOW + (start + length) * MINUTE)


# Halves of a degree: exact in binary, so the oracle below compares without rounding, and
# often enough on the edges (-180, 180, the poles) for the edge cases to come up.
longitudes = st.integers(-360, 360).map(lambda half: half / 2)
latitudes = st.integers(-180, 180).map(lambda half: half / 2)


@st.composite
def boxes(draw: st.DrawFn, *, edges: st.SearchStrategy[float] = longitudes) -> BoundingBox:
    """Any valid RFC 7946 bbox, including those that cross the antimeridian."""
    south, north = sorted((draw(latitudes), draw(latitudes)))
    return BoundingBox(draw(edges), south, draw(edges), north)


# Generated boxes rarely put an edge on the antimeridian by chance, so these often do.
on_the_antimeridian = boxes(edges=st.sampled_from([-180.0, 180.0]) | longitudes)


AREAS = ("mill lane", "high street", "station road")


@st.composite
def plans(draw: st.DrawFn, *, with_boxes: bool = True) -> Plan:
    """A plan of either party in one of a few areas; no plan refers to another."""
    return Plan(
        notice_id=draw(st.uuids()),
        sender_party=draw(st.sampled_from(("water", "roads"))),
        area=draw(st.sampled_from(AREAS)),
        window=draw(windows()),
        bbox=draw(st.none() | boxes()) if with_boxes else None,
    )


def _on_arc(longitude: float, west: float, east: float) -> bool:
    # Eastwards from west to east; 180 and -180 are the same meridian.
    length = east - west if west <= east else east - west + 360
    return (longitude - west) % 360 <= length


def _boxes_meet(a: BoundingBox, b: BoundingBox) -> bool:
    """The oracle: two closed boxes on the sphere share a point."""
    latitudes_meet = max(a.south, b.south) <= min(a.north, b.north)
    # Two closed arcs of a circle meet exactly when one's start lies on the other.
    longitudes_meet = _on_arc(a.west, b.west, b.east) or _on_arc(b.west, a.west, a.east)
    return latitudes_meet and longitudes_meet


def _windows_share_time(a: ActivityWindow, b: ActivityWindow) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


# -- Properties ---------------------------------------------------------------------------------


@settings(database=None)
@given(plans(), plans())
def test_overlap_is_symmetric(a: Plan, b: Plan) -> None:
    assert overlap(a, b) == overlap(b, a)


@settings(database=None)
@given(plans())
def test_a_plan_never_conflicts_with_itself(plan: Plan) -> None:
    assert overlap(plan, plan) is None


@settings(database=None)
@given(plans(), windows())
def test_a_plan_never_conflicts_with_another_telling_of_itself(
    plan: Plan, window: ActivityWindow
) -> None:
    # The same notice id is the same notice, whatever window it is read with.
    again = Plan(plan.notice_id, plan.sender_party, plan.area, window, plan.bbox)

    assert overlap(plan, again) is None


@settings(database=None)
@given(plans(with_boxes=False), st.integers(1, 3_000), st.integers(1, 3_000))
def test_windows_that_only_touch_do_not_overlap(a: Plan, gap: int, length: int) -> None:
    follows = ActivityWindow(a.window.ends_at, a.window.ends_at + length * MINUTE)
    precedes = ActivityWindow(a.window.starts_at - gap * MINUTE, a.window.starts_at)

    for window in (follows, precedes):
        b = Plan(uuid4(), "roads", a.area, window)
        assert overlap(a, b) is None
        assert overlap(b, a) is None


@settings(database=None)
@given(plans(with_boxes=False), plans(with_boxes=False))
def test_the_overlap_lies_within_both_windows(a: Plan, b: Plan) -> None:
    shared = overlap(a, replace(b, area=a.area))  # one place: only the time is in question
    assume(shared is not None)
    assert shared is not None

    for window in (a.window, b.window):
        assert window.starts_at <= shared.starts_at < shared.ends_at <= window.ends_at
    # ...and it is all the time they share, not a part of it.
    assert shared.starts_at in (a.window.starts_at, b.window.starts_at)
    assert shared.ends_at in (a.window.ends_at, b.window.ends_at)


@settings(database=None)
@given(plans(), plans())
def test_two_plans_conflict_exactly_when_place_and_time_are_shared(a: Plan, b: Plan) -> None:
    assume(a.notice_id != b.notice_id)
    same_place = a.area == b.area and (
        a.bbox is None or b.bbox is None or _boxes_meet(a.bbox, b.bbox)
    )

    expected = same_place and _windows_share_time(a.window, b.window)

    assert (overlap(a, b) is not None) == expected


@settings(database=None)
@given(boxes(), boxes())
def test_boxes_that_do_not_meet_do_not_conflict_and_boxes_that_meet_do(
    a: BoundingBox, b: BoundingBox
) -> None:
    window = ActivityWindow(NOW, NOW + timedelta(hours=8))
    first = Plan(NOTICE_ID, "water", "mill lane", window, a)
    second = Plan(OTHER_ID, "roads", "mill lane", window, b)

    assert (overlap(first, second) is not None) == _boxes_meet(a, b)


def _respelt(box: BoundingBox, west: bool, east: bool) -> BoundingBox:
    """The same box with an edge on the antimeridian spelt the other way (±180).

    Not when both edges are on it: [-180, 180] is the whole globe, [180, 180] a line.
    """
    if abs(box.west) == 180 and abs(box.east) == 180:
        return box
    return BoundingBox(
        -box.west if west and abs(box.west) == 180 else box.west,
        box.south,
        -box.east if east and abs(box.east) == 180 else box.east,
        box.north,
    )


@settings(database=None, max_examples=500)  # cheap, and the edge cases are sparse
@given(on_the_antimeridian, on_the_antimeridian, st.tuples(*[st.booleans()] * 4))
def test_the_antimeridian_spelt_180_or_minus_180_is_one_meridian(
    a: BoundingBox, b: BoundingBox, respell: tuple[bool, bool, bool, bool]
) -> None:
    window = ActivityWindow(NOW, NOW + timedelta(hours=8))

    def meet(x: BoundingBox, y: BoundingBox) -> bool:
        first = Plan(NOTICE_ID, "water", "mill lane", window, x)
        return overlap(first, Plan(OTHER_ID, "roads", "mill lane", window, y)) is not None

    respelt = _respelt(a, *respell[:2]), _respelt(b, *respell[2:])
    assert meet(*respelt) == meet(a, b) == _boxes_meet(a, b)


@settings(database=None)
@given(boxes(), longitudes, latitudes)
def test_boxes_that_touch_at_an_edge_or_a_corner_conflict(
    a: BoundingBox, east: float, north: float
) -> None:
    # ``b`` begins on ``a``'s eastern edge and reaches up from its northern one.
    assume(north >= a.north)
    b = BoundingBox(a.east, a.north, east, north)
    window = ActivityWindow(NOW, NOW + timedelta(hours=8))

    shared = overlap(
        Plan(NOTICE_ID, "water", "mill lane", window, a),
        Plan(OTHER_ID, "roads", "mill lane", window, b),
    )

    assert shared == window


# Labels are made of a few words; a word of letters people type, some outside ASCII.
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789éäÖß", min_size=1, max_size=8)
CASES: tuple[Callable[[str], str], ...] = (str.lower, str.upper, str.title, str.strip)
spaces = st.sampled_from([" ", "  ", "\t", "\u00a0", " \t "])


@st.composite
def retyped(draw: st.DrawFn, label_words: list[str]) -> str:
    """``label_words`` typed again: other case, other spaces between and around them."""
    typed = []
    for word in label_words:
        case = draw(st.sampled_from(CASES))
        typed.append(case(word))
    between = [draw(spaces) for _ in typed[1:]]
    label = typed[0] + "".join(gap + word for gap, word in zip(between, typed[1:], strict=True))
    return draw(st.sampled_from(("", " ", "\t"))) + label + draw(st.sampled_from(("", "  ")))


@settings(database=None)
@given(st.data(), st.lists(words, min_size=1, max_size=4))
def test_area_labels_equal_up_to_case_and_spaces_conflict(
    data: st.DataObject, label_words: list[str]
) -> None:
    first = data.draw(retyped(label_words))
    second = data.draw(retyped(label_words))

    water = plan_of(sent(content(area=first)))
    roads = plan_of(sent(content(area=second), notice_id=OTHER_ID, by=ROADS_OPERATOR))

    assert water is not None
    assert roads is not None
    assert water.area == roads.area == area_key(" ".join(label_words))
    assert overlap(water, roads) is not None


@settings(database=None)
@given(st.lists(words, min_size=1, max_size=3), st.lists(words, min_size=1, max_size=3))
def test_area_labels_that_name_other_places_do_not_conflict(
    first_words: list[str], second_words: list[str]
) -> None:
    first, second = " ".join(first_words), " ".join(second_words)
    assume(area_key(first) != area_key(second))

    water = plan_of(sent(content(area=first)))
    roads = plan_of(sent(content(area=second), notice_id=OTHER_ID, by=ROADS_OPERATOR))

    assert water is not None
    assert roads is not None
    assert overlap(water, roads) is None


@settings(database=None)
@given(plans(), windows())
def test_an_update_and_the_notice_it_refers_to_never_conflict(
    plan: Plan, window: ActivityWindow
) -> None:
    update = Plan(uuid4(), plan.sender_party, plan.area, window, plan.bbox, plan.notice_id)

    assert overlap(plan, update) is None
    assert overlap(update, plan) is None


# -- Worked examples: Mill Lane -----------------------------------------------------------------

DAY = timedelta(days=1)
ON_MILL_LANE = ActivityWindow(NOW + 7 * DAY, NOW + 9 * DAY)
"""The water works of the demo: days 7 to 9 (see ``tests/unit/builders.py``)."""


def _roads_plan(
    area: str = "Mill Lane, numbers 2 to 40",
    window: ActivityWindow = ON_MILL_LANE,
    **changes: object,
) -> Plan:
    notice = sent(
        content(subject="Resurfacing", area=area, activity=window, **changes),
        notice_id=OTHER_ID,
        by=ROADS_OPERATOR,
    )
    plan = plan_of(notice)
    assert plan is not None
    return plan


def _water_plan(**changes: object) -> Plan:
    plan = plan_of(sent(content(**changes)))
    assert plan is not None
    return plan


def test_resurfacing_mill_lane_during_the_water_works_conflicts_for_the_days_they_share() -> None:
    resurfacing = ActivityWindow(NOW + 8 * DAY, NOW + 10 * DAY)

    shared = overlap(_water_plan(), _roads_plan("  mill lane,  NUMBERS 2 to 40 ", resurfacing))

    assert shared == ActivityWindow(NOW + 8 * DAY, NOW + 9 * DAY)


def test_resurfacing_that_starts_as_the_water_works_end_does_not_conflict() -> None:
    # The water crew hands the street over to the roads crew: no time is shared.
    afterwards = ActivityWindow(NOW + 9 * DAY, NOW + 10 * DAY)

    assert overlap(_water_plan(), _roads_plan(window=afterwards)) is None


def test_works_on_mill_road_do_not_conflict_with_works_on_mill_lane() -> None:
    assert overlap(_water_plan(), _roads_plan("Mill Road")) is None


def test_two_boxes_at_either_end_of_mill_lane_do_not_conflict() -> None:
    west_end = BoundingBox(-1.2601, 51.7520, -1.2590, 51.7526)
    east_end = BoundingBox(-1.2570, 51.7520, -1.2560, 51.7526)

    assert overlap(_water_plan(bbox=west_end), _roads_plan(bbox=east_end)) is None


def test_a_box_on_one_side_only_leaves_the_label_to_decide() -> None:
    west_end = BoundingBox(-1.2601, 51.7520, -1.2590, 51.7526)

    assert overlap(_water_plan(bbox=west_end), _roads_plan()) == ON_MILL_LANE


def test_boxes_meeting_at_the_corner_of_two_streets_conflict() -> None:
    mill_lane = BoundingBox(-1.2601, 51.7520, -1.2590, 51.7526)
    on_the_corner = BoundingBox(-1.2590, 51.7526, -1.2580, 51.7530)

    shared = overlap(_water_plan(bbox=mill_lane), _roads_plan(bbox=on_the_corner))

    assert shared == ON_MILL_LANE


@pytest.mark.parametrize(
    ("a", "b", "meet"),
    [
        # A box across the antimeridian (west > east) and one inside its eastern part.
        ((170, -20, -170, -10), (175, -18, 179, -12), True),
        # ...and one inside its western part, past -180.
        ((170, -20, -170, -10), (-175, -18, -172, -12), True),
        # ...and one between its ends, on the far side of the Earth.
        ((170, -20, -170, -10), (0, -18, 10, -12), False),
        # Two boxes meeting on the antimeridian: 180 and -180 are one meridian.
        ((170, -20, 180, -10), (-180, -20, -170, -10), True),
        ((175, -20, -180, -10), (-180, -15, -175, -12), True),
        # Both across it: they share the meridian itself.
        ((179, -20, -179, -10), (178, -15, -178, -12), True),
    ],
)
def test_boxes_across_the_antimeridian_meet_as_on_the_globe(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float], meet: bool
) -> None:
    window = ActivityWindow(NOW, NOW + timedelta(hours=8))
    first = Plan(NOTICE_ID, "water", "chatham islands", window, BoundingBox(*a))
    second = Plan(OTHER_ID, "roads", "chatham islands", window, BoundingBox(*b))

    assert (overlap(first, second) is not None) is meet
    assert _boxes_meet(BoundingBox(*a), BoundingBox(*b)) is meet  # the oracle agrees


def test_an_update_of_the_water_works_does_not_conflict_with_the_works_it_moves() -> None:
    moved = ActivityWindow(NOW + 8 * DAY, NOW + 10 * DAY)
    update = plan_of(
        sent(content(activity=moved, refers_to=NOTICE_ID), notice_id=OTHER_ID, referenced=sent())
    )
    assert update is not None

    assert overlap(_water_plan(), update) is None


def test_a_reply_of_the_other_party_with_works_of_its_own_conflicts_with_the_notice() -> None:
    # Not an update: the roads department answers with its own plan for the same street,
    # and both plans stand (see ``rules.replaces``), so they clash.
    reply = plan_of(
        sent(
            content(subject="We resurface it then", refers_to=NOTICE_ID),
            notice_id=OTHER_ID,
            by=ROADS_OPERATOR,
            referenced=sent(),
        )
    )
    assert reply is not None

    assert overlap(_water_plan(), reply) == ON_MILL_LANE


def test_conflicts_with_lists_every_active_plan_the_new_one_clashes_with() -> None:
    water = _water_plan()
    elsewhere = Plan(uuid4(), "water", "high street", ON_MILL_LANE)
    later = Plan(uuid4(), "water", water.area, ActivityWindow(NOW + 9 * DAY, NOW + 11 * DAY))
    new = _roads_plan(window=ActivityWindow(NOW + 8 * DAY, NOW + 12 * DAY))

    found = conflicts_with(new, [water, elsewhere, later])

    assert found == [
        (water, ActivityWindow(NOW + 8 * DAY, NOW + 9 * DAY)),
        (later, ActivityWindow(NOW + 9 * DAY, NOW + 11 * DAY)),
    ]


def test_a_notice_without_a_window_or_an_area_plans_nothing() -> None:
    assert plan_of(sent(content(activity=None))) is None
    assert plan_of(sent(content(area=None))) is None


def test_a_plan_is_active_until_its_window_ends() -> None:
    plan = _water_plan()

    assert still_active(plan, ON_MILL_LANE.ends_at - timedelta(milliseconds=1))
    assert not still_active(plan, ON_MILL_LANE.ends_at)


def test_a_conflict_has_the_same_id_wherever_it_is_computed_and_one_per_order() -> None:
    assert conflict_id(NOTICE_ID, OTHER_ID) == conflict_id(
        UUID(str(NOTICE_ID)), UUID(str(OTHER_ID))
    )
    assert conflict_id(NOTICE_ID, OTHER_ID) != conflict_id(OTHER_ID, NOTICE_ID)


def test_area_key_trims_collapses_spaces_and_folds_case() -> None:
    assert area_key("  Mill\tLane,\u00a0 NUMBERS 2 to 40 ") == "mill lane, numbers 2 to 40"
    assert area_key("Straße") == area_key("STRASSE")


@pytest.mark.parametrize("priority", list(Priority))
def test_a_plan_keeps_the_notice_it_came_from(priority: Priority) -> None:
    notice = sent(content(priority=priority, bbox=BoundingBox(-1.3, 51.7, -1.2, 51.8)))

    plan = plan_of(notice)

    assert plan == Plan(
        NOTICE_ID,
        WATER_OPERATOR.party,
        "mill lane, numbers 2 to 40",
        ON_MILL_LANE,
        BoundingBox(-1.3, 51.7, -1.2, 51.8),
        None,
    )
