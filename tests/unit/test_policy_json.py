"""A channel's policy as JSON: the one form the log, the store and the API spell it in.

It reads back as it was written, older forms read as the defaults for what they lack,
and anything that is not a valid policy is refused as ``Invalid``.
"""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.schemas import PolicyOut
from client.protocol.vocabulary import Priority
from server.domain.errors import Invalid
from server.domain.model import Chase, Checks, Policy
from server.domain.policy import policy_of_wire, policy_wire
from server.store.repository import policy_from_json, policy_to_json

BEFORE_SIGNATURES = json.dumps(
    {
        "ack_deadline_seconds": {"routine": 259200, "important": 86400, "urgent": 3600},
        "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
    }
)
"""A policy as written before channels could require signatures."""

BEFORE_CHASING = json.dumps(
    {
        "ack_deadline_seconds": {"routine": 7200, "important": 3600, "urgent": 600},
        "min_advance_notice_seconds": {"routine": 172800, "important": 14400, "urgent": 0},
        "require_signatures": True,
    }
)
"""A policy as written before deadlines were chased and lines checked."""

HOUR = timedelta(hours=1)
ON_CALL = Policy(
    ack_deadlines={
        Priority.ROUTINE: 24 * HOUR,
        Priority.IMPORTANT: 4 * HOUR,
        Priority.URGENT: HOUR,
    },
    require_signatures=True,
    chase={
        Priority.ROUTINE: Chase(HOUR, 12 * HOUR, 1, None),
        Priority.IMPORTANT: Chase(HOUR / 2, HOUR, 3, 4 * HOUR),
        Priority.URGENT: Chase(timedelta(0), HOUR / 6, 5, HOUR / 2),
    },
    escalate_to={"roads": ("ben", "rosa"), "water": ("ada",)},
    checks=Checks(every=HOUR, answer_within=timedelta(minutes=5)),
)
"""Both parties on call: short deadlines, a busy chase, operators on duty, hourly checks."""


def test_a_policy_reads_back_as_it_was_written() -> None:
    policy = Policy(
        ack_deadlines={p: timedelta(hours=2) for p in Priority}, require_signatures=True
    )

    assert policy_from_json(policy_to_json(policy)) == policy


def test_a_policy_with_a_chase_operators_on_duty_and_checks_reads_back_as_it_was_written() -> None:
    assert policy_from_json(policy_to_json(ON_CALL)) == ON_CALL
    assert policy_of_wire(policy_wire(ON_CALL)) == ON_CALL


def test_the_wire_form_is_spelt_in_whole_seconds_keyed_by_priority_and_party() -> None:
    wire = policy_wire(ON_CALL)

    assert wire["chase"]["urgent"] == {
        "remind_after_seconds": 0,
        "remind_every_seconds": 600,
        "reminders": 5,
        "escalate_after_seconds": 1800,
    }
    assert wire["chase"]["routine"]["escalate_after_seconds"] is None
    assert wire["escalate_to"] == {"roads": ["ben", "rosa"], "water": ["ada"]}
    assert wire["checks"] == {"every_seconds": 3600, "answer_within_seconds": 300}
    assert policy_wire(Policy())["checks"] is None
    assert policy_wire(Policy())["escalate_to"] == {}


def test_the_stored_json_is_the_wire_form_with_its_keys_sorted() -> None:
    text = policy_to_json(ON_CALL)

    assert json.loads(text) == policy_wire(ON_CALL)
    assert text == json.dumps(policy_wire(ON_CALL), sort_keys=True)


def test_the_default_chase_is_the_one_the_plan_gives() -> None:
    assert policy_wire(Policy())["chase"] == {
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
    }


seconds = st.integers(1, 30 * 24 * 3600).map(lambda s: timedelta(seconds=s))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Any valid policy with whole-second times (the wire's resolution)."""

    def by_priority(values: st.SearchStrategy[Any]) -> dict[Priority, Any]:
        return {p: draw(values) for p in Priority}

    chases = st.builds(
        Chase,
        remind_after=seconds | st.just(timedelta(0)),
        remind_every=seconds,
        reminders=st.integers(0, 20),
        escalate_after=st.none() | seconds,
    )
    every = draw(st.integers(60, 7 * 24 * 3600))
    checks = Checks(
        every=timedelta(seconds=every),
        answer_within=timedelta(seconds=draw(st.integers(1, every - 1))),
    )
    operators = st.lists(st.sampled_from(["ada", "ben", "rosa", "rick"]), max_size=3).map(tuple)
    return Policy(
        ack_deadlines=by_priority(seconds),
        min_advance_notice=by_priority(seconds | st.just(timedelta(0))),
        require_signatures=draw(st.booleans()),
        chase=by_priority(chases),
        escalate_to=draw(st.dictionaries(st.sampled_from(["water", "roads"]), operators)),
        checks=draw(st.none() | st.just(checks)),
    )


@settings(database=None)
@given(policies())
def test_any_policy_reads_back_from_its_json_as_it_was_written(policy: Policy) -> None:
    assert policy_from_json(policy_to_json(policy)) == policy


def test_a_policy_written_before_signatures_requires_none() -> None:
    assert policy_from_json(BEFORE_SIGNATURES) == Policy()
    assert PolicyOut.model_validate_json(BEFORE_SIGNATURES).require_signatures is False


def test_a_policy_written_before_chasing_reads_with_the_default_chase_and_no_checks() -> None:
    policy = policy_from_json(BEFORE_CHASING)

    assert policy.chase == Policy().chase
    assert policy.escalate_to == {}
    assert policy.checks is None
    assert policy.require_signatures is True
    assert policy.ack_deadlines[Priority.URGENT] == timedelta(minutes=10)


def test_a_policy_with_its_new_parts_null_reads_as_the_defaults() -> None:
    wire = {**json.loads(BEFORE_SIGNATURES), "chase": None, "escalate_to": None, "checks": None}

    assert policy_of_wire(wire) == Policy()


def test_the_served_policy_says_whether_signatures_are_required() -> None:
    served = PolicyOut.model_validate_json(policy_to_json(Policy(require_signatures=True)))

    assert served.require_signatures is True


# -- What is not a policy -------------------------------------------------------------------------


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    wire = deepcopy(policy_wire(ON_CALL))
    *parents, last = path
    target = wire
    for key in parents:
        target = target[key]
    del target[last]
    return wire


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    wire = deepcopy(policy_wire(ON_CALL))
    *parents, last = path
    target = wire
    for key in parents:
        target = target[key]
    target[last] = value
    return wire


INVALID: dict[str, Any] = {
    "a priority missing from the deadlines": _without(("ack_deadline_seconds", "urgent")),
    "a priority missing from the advance notice": _without(
        ("min_advance_notice_seconds", "routine")
    ),
    "a priority missing from the chase": _without(("chase", "important")),
    "no deadlines at all": _without(("ack_deadline_seconds",)),
    "a priority that does not exist": _with(("ack_deadline_seconds", "critical"), 60),
    "a zero deadline": _with(("ack_deadline_seconds", "routine"), 0),
    "a negative advance notice": _with(("min_advance_notice_seconds", "urgent"), -1),
    "a reminder before the deadline": _with(("chase", "urgent", "remind_after_seconds"), -60),
    "reminders no time apart": _with(("chase", "urgent", "remind_every_seconds"), 0),
    "more than 20 reminders": _with(("chase", "urgent", "reminders"), 21),
    "negative reminders": _with(("chase", "urgent", "reminders"), -1),
    "an escalation before the deadline": _with(("chase", "urgent", "escalate_after_seconds"), -1),
    "a chase without its reminders": _without(("chase", "urgent", "reminders")),
    "an answer window as long as the interval": _with(
        ("checks",), {"every_seconds": 3600, "answer_within_seconds": 3600}
    ),
    "an answer window longer than the interval": _with(
        ("checks",), {"every_seconds": 3600, "answer_within_seconds": 7200}
    ),
    "no answer window": _with(("checks",), {"every_seconds": 3600, "answer_within_seconds": 0}),
    "checks more often than once a minute": _with(
        ("checks",), {"every_seconds": 59, "answer_within_seconds": 30}
    ),
    "checks without an answer window": _with(("checks",), {"every_seconds": 3600}),
    "operators on duty as one string": _with(("escalate_to", "roads"), "ben"),
    "operators on duty that are not names": _with(("escalate_to", "roads"), [1, 2]),
    "a list instead of a policy": [],
}


@pytest.mark.parametrize("wire", INVALID.values(), ids=INVALID.keys())
def test_what_is_not_a_valid_policy_is_invalid(wire: Any) -> None:
    with pytest.raises(Invalid) as refused:
        policy_of_wire(wire)

    assert refused.value.field == "policy"
    assert refused.value.code == "invalid"


def test_checks_once_a_minute_are_allowed() -> None:
    wire = _with(("checks",), {"every_seconds": 60, "answer_within_seconds": 59})

    assert policy_of_wire(wire).checks == Checks(timedelta(minutes=1), timedelta(seconds=59))
