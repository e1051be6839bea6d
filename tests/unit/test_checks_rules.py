"""Liveness checks: who answers one, when, and how its events change it.

Every check here is built the way the store builds it: from the ``check.requested`` event
the clock logs, folded with ``evolve_check``.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from server.domain.checks import AnswerCheck, answer_check, evolve_check
from server.domain.errors import CheckClosed, Forbidden, NotFound
from server.domain.events import CheckAnswered, CheckMissed, CheckRequested
from server.domain.model import Actor, Check
from tests.unit.builders import (
    CHANNEL,
    NOW,
    OTHER_CHANNEL,
    ROADS_ADMIN,
    ROADS_OBSERVER,
    ROADS_OPERATOR,
    WATER_ADMIN,
    WATER_OPERATOR,
)

CHECK_ID = UUID("c4ec0000-0000-4000-8000-000000000001")
DUE_AT = NOW
REQUESTED_AT = NOW + timedelta(seconds=2)
"""The scheduler fired the tick two seconds after it was due."""
ANSWER_BY = REQUESTED_AT + timedelta(minutes=5)


def requested(party: str = "roads", channel: str = CHANNEL.id) -> Check:
    """A check of ``party`` as it stands right after ``check.requested``."""
    event = CheckRequested(CHECK_ID, REQUESTED_AT, DUE_AT, party, ANSWER_BY)
    return evolve_check(None, event, channel=channel)


def answered() -> Check:
    """The roads check, answered by ben a minute after it was asked."""
    at = REQUESTED_AT + timedelta(minutes=1)
    (event,) = answer_check(
        AnswerCheck(CHECK_ID), channel=CHANNEL, actor=ROADS_OPERATOR, check=requested(), now=at
    )
    return evolve_check(requested(), event, channel=CHANNEL.id)


def missed() -> Check:
    """The roads check, logged missed when its window closed."""
    event = CheckMissed(CHECK_ID, ANSWER_BY, ANSWER_BY, "roads", ("rick",))
    return evolve_check(requested(), event, channel=CHANNEL.id)


def test_a_requested_check_waits_for_the_party_asked() -> None:
    assert requested() == Check(CHECK_ID, CHANNEL.id, "roads", DUE_AT, REQUESTED_AT, ANSWER_BY)


@pytest.mark.parametrize(
    "actor", [ROADS_OPERATOR, ROADS_OBSERVER, ROADS_ADMIN], ids=["operator", "observer", "admin"]
)
def test_any_operator_of_the_party_asked_answers_whatever_its_role(actor: Actor) -> None:
    at = REQUESTED_AT + timedelta(seconds=30)

    (event,) = answer_check(
        AnswerCheck(CHECK_ID), channel=CHANNEL, actor=actor, check=requested(), now=at
    )

    assert event == CheckAnswered(CHECK_ID, at, "roads", actor.operator, REQUESTED_AT)
    after = evolve_check(requested(), event, channel=CHANNEL.id)
    assert (after.answered_at, after.answered_by, after.missed_at) == (at, actor.operator, None)


def test_an_answer_says_how_long_the_party_took_in_milliseconds() -> None:
    at = REQUESTED_AT + timedelta(seconds=61, microseconds=234_567)

    (event,) = answer_check(
        AnswerCheck(CHECK_ID), channel=CHANNEL, actor=ROADS_OPERATOR, check=requested(), now=at
    )

    assert event.at == REQUESTED_AT + timedelta(seconds=61, milliseconds=234)
    assert event.data() == {
        "check": str(CHECK_ID),
        "party": "roads",
        "requested_at": "2026-11-21T09:30:02.000Z",
        "answered_in_ms": 61_234,
    }


@pytest.mark.parametrize("actor", [WATER_OPERATOR, WATER_ADMIN], ids=["operator", "admin"])
def test_answering_a_check_for_the_other_party_is_forbidden(actor: Actor) -> None:
    with pytest.raises(Forbidden, match="only roads answers it") as refused:
        answer_check(
            AnswerCheck(CHECK_ID), channel=CHANNEL, actor=actor, check=requested(), now=NOW
        )

    assert refused.value.code == "forbidden"


def test_answering_twice_logs_nothing_the_second_time() -> None:
    check = answered()

    again = answer_check(
        AnswerCheck(CHECK_ID),
        channel=CHANNEL,
        actor=ROADS_OBSERVER,
        check=check,
        now=REQUESTED_AT + timedelta(minutes=2),
    )

    assert again == []
    assert check.answered_by == "ben"  # the first answer is the one on record


def test_answering_again_after_the_window_closed_still_logs_nothing() -> None:
    # The party did answer in time: a late repeat is not a late answer.
    again = answer_check(
        AnswerCheck(CHECK_ID),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        check=answered(),
        now=ANSWER_BY + timedelta(hours=1),
    )

    assert again == []


def test_a_check_may_be_answered_until_the_moment_its_window_closes() -> None:
    (event,) = answer_check(
        AnswerCheck(CHECK_ID),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        check=requested(),
        now=ANSWER_BY,
    )

    assert event.data()["answered_in_ms"] == 5 * 60 * 1000


def test_answering_after_the_window_closed_is_refused() -> None:
    with pytest.raises(CheckClosed) as refused:
        answer_check(
            AnswerCheck(CHECK_ID),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            check=requested(),
            now=ANSWER_BY + timedelta(milliseconds=1),
        )

    assert refused.value.code == "check-closed"
    assert "2026-11-21T09:35:02.000Z" in refused.value.message


def test_answering_a_check_logged_missed_is_refused() -> None:
    with pytest.raises(CheckClosed):
        answer_check(
            AnswerCheck(CHECK_ID),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            check=missed(),
            now=ANSWER_BY,
        )


def test_answering_an_unknown_check_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        answer_check(
            AnswerCheck(CHECK_ID), channel=CHANNEL, actor=ROADS_OPERATOR, check=None, now=NOW
        )

    assert refused.value.code == "not-found"


def test_a_check_of_another_channel_is_not_found_here() -> None:
    # Parks is not on this channel; neither are its checks, even for the water party.
    elsewhere = requested(party="water", channel=OTHER_CHANNEL.id)

    with pytest.raises(NotFound):
        answer_check(
            AnswerCheck(CHECK_ID), channel=CHANNEL, actor=WATER_OPERATOR, check=elsewhere, now=NOW
        )


def test_a_missed_check_records_when_and_stays_unanswered() -> None:
    check = missed()

    assert (check.missed_at, check.answered_at, check.answered_by) == (ANSWER_BY, None, None)


def test_an_answer_or_a_miss_before_the_request_is_a_bug_not_a_state() -> None:
    answer = CheckAnswered(CHECK_ID, NOW, "roads", "ben", REQUESTED_AT)

    with pytest.raises(ValueError, match=r"before check\.requested"):
        evolve_check(None, answer, channel=CHANNEL.id)
