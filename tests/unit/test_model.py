"""What a notice and a command may hold, and what the channel policy asks of a notice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from client.protocol.vocabulary import Decision, Priority, Status
from server.domain.errors import Invalid
from server.domain.events import Event, NoticeSent
from server.domain.model import (
    MAX_AREA,
    MAX_BODY,
    MAX_REASON,
    MAX_SUBJECT,
    ActivityWindow,
    Channel,
    NoticeContent,
    Policy,
)
from server.domain.rules import Cancel, Decide, SendNotice, decide
from tests.unit.builders import (
    CHANNEL,
    NOTICE_ID,
    NOW,
    OTHER_CHANNEL,
    OTHER_ID,
    WATER_OPERATOR,
    content,
    sent,
)

# -- What a notice may say -----------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    ["", "   ", "\n\t", "x" * (MAX_SUBJECT + 1)],
    ids=["empty", "blank", "whitespace", "201-characters"],
)
def test_a_subject_that_is_blank_or_too_long_is_invalid(subject: str) -> None:
    with pytest.raises(Invalid) as refused:
        NoticeContent(subject=subject)

    assert refused.value.field == "subject"
    assert refused.value.code == "invalid"


def test_a_subject_of_200_characters_is_accepted() -> None:
    assert len(NoticeContent(subject="x" * MAX_SUBJECT).subject) == 200


def test_a_body_longer_than_10_000_characters_is_invalid() -> None:
    with pytest.raises(Invalid) as refused:
        NoticeContent(subject="Hydrant test", body="x" * (MAX_BODY + 1))

    assert refused.value.field == "body"


def test_an_empty_body_and_a_body_of_10_000_characters_are_accepted() -> None:
    NoticeContent(subject="Hydrant test", body="")
    NoticeContent(subject="Hydrant test", body="x" * MAX_BODY)


@pytest.mark.parametrize("area", ["", "x" * (MAX_AREA + 1)], ids=["empty", "201-characters"])
def test_an_area_that_is_empty_or_too_long_is_invalid(area: str) -> None:
    with pytest.raises(Invalid) as refused:
        NoticeContent(subject="Hydrant test", area=area)

    assert refused.value.field == "area"


def test_an_area_of_200_characters_is_accepted() -> None:
    NoticeContent(subject="Hydrant test", area="x" * MAX_AREA)


@pytest.mark.parametrize(
    "ends_at",
    [NOW - timedelta(hours=1), NOW],
    ids=["before-start", "at-start"],
)
def test_an_activity_must_end_after_it_starts(ends_at: datetime) -> None:
    with pytest.raises(Invalid) as refused:
        ActivityWindow(starts_at=NOW, ends_at=ends_at)

    assert refused.value.field == "activity"


def test_an_activity_of_one_millisecond_is_accepted() -> None:
    ActivityWindow(starts_at=NOW, ends_at=NOW + timedelta(milliseconds=1))


# -- What a decision or a cancellation may say ----------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
def test_an_objection_without_a_reason_is_invalid(reason: str | None) -> None:
    with pytest.raises(Invalid) as refused:
        Decide(NOTICE_ID, Decision.OBJECTED, reason=reason)

    assert refused.value.field == "reason"


def test_an_acknowledgement_needs_no_reason() -> None:
    assert Decide(NOTICE_ID, Decision.ACKNOWLEDGED).reason is None


@pytest.mark.parametrize("decision", list(Decision), ids=str)
def test_a_decision_reason_longer_than_2000_characters_is_invalid(decision: Decision) -> None:
    with pytest.raises(Invalid) as refused:
        Decide(NOTICE_ID, decision, reason="x" * (MAX_REASON + 1))

    assert refused.value.field == "reason"


def test_a_cancellation_reason_longer_than_2000_characters_is_invalid() -> None:
    with pytest.raises(Invalid) as refused:
        Cancel(NOTICE_ID, reason="x" * (MAX_REASON + 1))

    assert refused.value.field == "reason"


def test_reasons_of_2000_characters_are_accepted() -> None:
    Decide(NOTICE_ID, Decision.OBJECTED, reason="x" * MAX_REASON)
    Cancel(NOTICE_ID, reason="x" * MAX_REASON)


# -- Policy: acknowledgement deadlines -----------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "deadline"),
    [
        (Priority.ROUTINE, timedelta(days=3)),
        (Priority.IMPORTANT, timedelta(days=1)),
        (Priority.URGENT, timedelta(hours=1)),
    ],
    ids=str,
)
def test_the_acknowledgement_is_due_a_deadline_after_sending_by_priority(
    priority: Priority, deadline: timedelta
) -> None:
    notice = sent(content(priority=priority, activity=None))

    assert notice.ack_due_at == notice.sent_at + deadline
    assert notice.status is Status.SENT


def test_a_notice_that_needs_no_acknowledgement_has_no_deadline() -> None:
    assert sent(content(ack_required=False)).ack_due_at is None


def test_the_deadline_comes_from_the_channel_policy() -> None:
    quick = Policy(
        ack_deadlines={
            Priority.ROUTINE: timedelta(hours=8),
            Priority.IMPORTANT: timedelta(hours=2),
            Priority.URGENT: timedelta(minutes=15),
        }
    )
    channel = Channel(id="water-roads", parties=("water", "roads"), policy=quick)

    notice = sent(content(priority=Priority.URGENT, activity=None), channel=channel)

    assert notice.ack_due_at == NOW + timedelta(minutes=15)


def test_the_deadline_runs_from_the_servers_clock_not_the_clients() -> None:
    notice = sent(client_time=NOW - timedelta(days=1))

    assert notice.ack_due_at == NOW + timedelta(days=3)
    assert notice.client_time == NOW - timedelta(days=1)  # kept beside it, as a claim


# -- Policy: minimum advance notice --------------------------------------------------------


def _works(priority: Priority, *, starting_in: timedelta) -> NoticeContent:
    starts_at = NOW + starting_in
    return content(
        priority=priority, activity=ActivityWindow(starts_at, starts_at + timedelta(hours=6))
    )


def _send(notice_content: NoticeContent) -> list[Event]:
    command = SendNotice(NOTICE_ID, notice_content)
    return decide(command, channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW)


@pytest.mark.parametrize(
    ("priority", "advance"),
    [(Priority.ROUTINE, timedelta(days=2)), (Priority.IMPORTANT, timedelta(hours=4))],
    ids=str,
)
def test_works_announced_later_than_the_minimum_advance_notice_are_refused(
    priority: Priority, advance: timedelta
) -> None:
    too_soon = _works(priority, starting_in=advance - timedelta(milliseconds=1))

    with pytest.raises(Invalid) as refused:
        _send(too_soon)

    assert refused.value.field == "activity"


@pytest.mark.parametrize(
    ("priority", "advance"),
    [
        (Priority.ROUTINE, timedelta(days=2)),
        (Priority.IMPORTANT, timedelta(hours=4)),
        (Priority.URGENT, timedelta(0)),
    ],
    ids=str,
)
def test_works_announced_exactly_the_minimum_advance_notice_ahead_are_accepted(
    priority: Priority, advance: timedelta
) -> None:
    (event,) = _send(_works(priority, starting_in=advance))

    assert isinstance(event, NoticeSent)


def test_urgent_works_starting_now_need_no_advance_notice() -> None:
    (event,) = _send(_works(Priority.URGENT, starting_in=timedelta(0)))

    assert isinstance(event, NoticeSent)
    assert event.notice.ack_due_at == NOW + timedelta(hours=1)


def test_urgent_works_already_under_way_may_still_be_announced() -> None:
    # A burst main is dug up first and announced ten minutes later: with no minimum
    # advance notice, an honest late notice is better than none.
    (event,) = _send(_works(Priority.URGENT, starting_in=-timedelta(minutes=10)))

    assert isinstance(event, NoticeSent)


def test_routine_works_already_under_way_are_refused() -> None:
    with pytest.raises(Invalid) as refused:
        _send(_works(Priority.ROUTINE, starting_in=-timedelta(minutes=10)))

    assert refused.value.field == "activity"


def test_a_notice_without_an_activity_needs_no_advance_notice() -> None:
    (event,) = _send(content(activity=None))

    assert isinstance(event, NoticeSent)


# -- Policy: a notice may refer to an earlier one of the same channel ---------------------


def test_a_notice_may_refer_to_an_earlier_notice_of_its_channel() -> None:
    earlier = sent(notice_id=OTHER_ID)

    update = sent(content(refers_to=OTHER_ID), referenced=earlier)

    assert update.content.refers_to == OTHER_ID


def test_a_reference_to_an_unknown_notice_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        _send(content(refers_to=OTHER_ID))

    assert refused.value.field == "refers_to"


def test_a_reference_to_a_notice_of_another_channel_is_refused() -> None:
    elsewhere = sent(notice_id=OTHER_ID, channel=OTHER_CHANNEL)
    command = SendNotice(NOTICE_ID, content(refers_to=OTHER_ID))

    with pytest.raises(Invalid) as refused:
        decide(
            command,
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=None,
            now=NOW,
            referenced=elsewhere,
        )

    assert refused.value.field == "refers_to"


# -- The channel ---------------------------------------------------------------------------


def test_a_channel_knows_its_two_parties_and_which_is_the_other() -> None:
    assert CHANNEL.has_party("water")
    assert CHANNEL.has_party("roads")
    assert not CHANNEL.has_party("parks")
    assert CHANNEL.other_party("water") == "roads"
    assert CHANNEL.other_party("roads") == "water"


def test_each_channel_gets_the_default_policy_of_its_own() -> None:
    first, second = Channel("a", ("x", "y")), Channel("b", ("x", "z"))

    assert first.policy == second.policy
    assert first.policy.ack_deadlines is not second.policy.ack_deadlines
