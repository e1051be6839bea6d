"""Events: how each one changes a notice (``evolve``) and how it looks on the wire (``data``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.vocabulary import Decision, EventType, Priority, Status
from server.domain.errors import Refusal
from server.domain.events import (
    Event,
    NoticeCancelled,
    NoticeDecided,
    NoticeOverdue,
    NoticeReceived,
    NoticeSent,
    evolve,
)
from server.domain.model import ActivityWindow, Actor, Notice
from server.domain.rules import (
    Cancel,
    Command,
    Decide,
    MarkOverdue,
    RecordReceipt,
    SendNotice,
    decide,
)
from tests.unit.builders import (
    CHANNEL,
    CONTENT,
    DUE,
    NOTICE_ID,
    NOW,
    OBJECTION,
    OTHER_ID,
    ROADS_OBSERVER,
    ROADS_OPERATOR,
    SERVER,
    WATER_ADMIN,
    WATER_OPERATOR,
    content,
    notice_in,
    replay,
    sent,
)

LATER = NOW + timedelta(hours=5)


def _notice(state: str) -> Notice:
    notice = notice_in(state)
    assert notice is not None
    return notice


def _received(*, by: Actor = ROADS_OPERATOR) -> NoticeReceived:
    return NoticeReceived(NOTICE_ID, LATER, by.party, by.operator)


def _decided(decision: Decision, reason: str | None = None) -> NoticeDecided:
    return NoticeDecided(NOTICE_ID, LATER, "roads", "ben", decision, reason=reason)


def _cancelled() -> NoticeCancelled:
    return NoticeCancelled(NOTICE_ID, LATER, "water", "ada", reason="Works postponed")


# -- evolve --------------------------------------------------------------------------------


def test_a_sent_notice_is_the_notice_the_event_carries() -> None:
    event = NoticeSent(sent())

    assert evolve(None, event) == event.notice


def test_a_sent_notice_keeps_the_signature_it_was_sent_with() -> None:
    event = NoticeSent(sent(), signature="c2lnbmF0dXJl")

    assert evolve(None, event).signature == "c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "event",
    [
        _received(),
        _decided(Decision.ACKNOWLEDGED),
        _cancelled(),
        NoticeOverdue(NOTICE_ID, DUE, DUE),
    ],
    ids=["received", "decided", "cancelled", "overdue"],
)
def test_no_event_but_notice_sent_can_come_first(event: Event) -> None:
    with pytest.raises(ValueError, match=r"before notice\.sent"):
        evolve(None, event)


def test_a_receipt_moves_a_sent_notice_to_delivered() -> None:
    before = sent()

    after = evolve(before, _received(by=ROADS_OBSERVER))

    assert after.status is Status.DELIVERED
    assert (after.received_at, after.received_by) == (LATER, "rosa")
    assert replace(after, status=Status.SENT, received_at=None, received_by=None) == before


@pytest.mark.parametrize(
    ("state", "status"),
    [("cancelled-unreceived", Status.CANCELLED), ("overdue-unreceived", Status.OVERDUE)],
)
def test_a_receipt_is_recorded_without_changing_a_later_status(state: str, status: Status) -> None:
    after = evolve(_notice(state), _received())

    assert after.status is status
    assert (after.received_at, after.received_by) == (LATER, "ben")


def test_an_acknowledgement_records_who_decided_and_when() -> None:
    after = evolve(_notice("delivered"), _decided(Decision.ACKNOWLEDGED))

    assert after.status is Status.ACKNOWLEDGED
    assert after.decision is Decision.ACKNOWLEDGED
    assert (after.decided_at, after.decided_by, after.reason) == (LATER, "ben", None)


def test_an_objection_records_its_reason() -> None:
    after = evolve(_notice("delivered"), _decided(Decision.OBJECTED, OBJECTION))

    assert after.status is Status.OBJECTED
    assert after.decision is Decision.OBJECTED
    assert (after.decided_at, after.decided_by, after.reason) == (LATER, "ben", OBJECTION)


def test_a_decision_after_the_deadline_keeps_the_missed_deadline_on_record() -> None:
    after = evolve(_notice("overdue-received"), _decided(Decision.ACKNOWLEDGED))

    assert after.status is Status.ACKNOWLEDGED
    assert after.overdue_at == DUE


def test_a_cancellation_records_who_withdrew_the_notice_and_why() -> None:
    after = evolve(_notice("delivered"), _cancelled())

    assert after.status is Status.CANCELLED
    assert (after.cancelled_at, after.cancelled_by) == (LATER, "ada")
    assert after.cancel_reason == "Works postponed"
    assert after.received_by == "ben"  # what happened before is kept


def test_a_missed_deadline_makes_the_notice_overdue() -> None:
    after = evolve(sent(), NoticeOverdue(NOTICE_ID, DUE, DUE))

    assert after.status is Status.OVERDUE
    assert after.overdue_at == DUE
    assert after.decision is None


def test_evolving_leaves_the_earlier_state_as_it_was() -> None:
    before = sent()

    evolve(before, _received())

    assert before.status is Status.SENT
    assert before.received_at is None


def test_the_life_of_a_notice_replays_to_the_state_it_reached() -> None:
    log: list[Event] = []
    notice: Notice | None = None
    story: list[tuple[Command, Actor | None, datetime]] = [
        (SendNotice(NOTICE_ID, CONTENT), WATER_OPERATOR, NOW),
        (RecordReceipt(NOTICE_ID), ROADS_OBSERVER, NOW + timedelta(minutes=1)),
        (RecordReceipt(NOTICE_ID), ROADS_OPERATOR, NOW + timedelta(minutes=2)),
        (MarkOverdue(NOTICE_ID), SERVER, DUE),
        (Decide(NOTICE_ID, Decision.OBJECTED, reason=OBJECTION), ROADS_OPERATOR, DUE),
    ]
    for command, actor, at in story:
        events = decide(command, channel=CHANNEL, actor=actor, notice=notice, now=at)
        log.extend(events)
        notice = replay(events, notice)

    assert [event.type for event in log] == [
        EventType.NOTICE_SENT,
        EventType.NOTICE_RECEIVED,
        EventType.NOTICE_OVERDUE,
        EventType.NOTICE_OBJECTED,
    ]
    assert replay(log) == notice
    assert notice is not None
    assert notice.status is Status.OBJECTED
    assert notice.received_by == "rosa"
    assert notice.overdue_at == DUE


# -- Replaying whatever the rules accept keeps a notice consistent -------------------------

ANY_COMMAND = [
    SendNotice(NOTICE_ID, CONTENT),
    SendNotice(NOTICE_ID, content(subject="Reused id")),
    RecordReceipt(NOTICE_ID),
    Decide(NOTICE_ID, Decision.ACKNOWLEDGED),
    Decide(NOTICE_ID, Decision.OBJECTED, reason=OBJECTION),
    Cancel(NOTICE_ID, reason="Works postponed"),
    MarkOverdue(NOTICE_ID),
]
# Mostly actors who may do something, so that notices travel far; the table in
# test_rules.py shows everyone else refused.
ANY_ACTOR = [WATER_OPERATOR, ROADS_OPERATOR, ROADS_OBSERVER, WATER_ADMIN, SERVER]


def _assert_consistent(notice: Notice, log: list[Event]) -> None:
    """What must hold of any notice the rules can produce, and of its log."""
    assert replay(log) == notice
    counts = Counter(event.type for event in log)
    assert log[0].type is EventType.NOTICE_SENT
    assert counts[EventType.NOTICE_SENT] == 1
    assert counts[EventType.NOTICE_RECEIVED] <= 1
    assert counts[EventType.NOTICE_ACKNOWLEDGED] + counts[EventType.NOTICE_OBJECTED] <= 1
    assert counts[EventType.NOTICE_CANCELLED] <= 1
    assert counts[EventType.NOTICE_OVERDUE] <= 1
    assert [event.at for event in log] == sorted(event.at for event in log)

    decided = notice.status in {Status.ACKNOWLEDGED, Status.OBJECTED}
    assert (notice.decision is not None) == decided
    assert (notice.cancelled_at is not None) == (notice.status is Status.CANCELLED)
    assert not (decided and notice.cancelled_at is not None)
    if decided or notice.status is Status.DELIVERED:
        assert notice.received_at is not None
    if notice.status is Status.SENT:
        assert notice.received_at is None
    if notice.status is Status.OVERDUE:
        assert notice.overdue_at is not None
    for event in log[1:]:
        if not isinstance(event, NoticeOverdue | NoticeCancelled):
            assert event.party != notice.sender_party  # receipts and decisions: the other side


@settings(database=None, deadline=None, max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ANY_COMMAND),
            st.sampled_from(ANY_ACTOR),
            st.integers(min_value=0, max_value=36 * 60),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_replaying_the_events_of_any_accepted_commands_gives_a_consistent_notice(
    steps: list[tuple[Command, Actor | None, int]],
) -> None:
    log: list[Event] = decide(
        SendNotice(NOTICE_ID, CONTENT), channel=CHANNEL, actor=WATER_OPERATOR, notice=None, now=NOW
    )
    notice = replay(log)
    now = NOW
    for command, actor, minutes_later in steps:
        now += timedelta(minutes=minutes_later)
        try:
            events = decide(command, channel=CHANNEL, actor=actor, notice=notice, now=now)
        except Refusal:
            continue
        log.extend(events)
        notice = replay(events, notice)
        assert notice is not None
        _assert_consistent(notice, log)


# -- data(): the event on the wire ---------------------------------------------------------


def test_notice_sent_data_carries_the_whole_content_with_times_as_text() -> None:
    notice = sent(
        content(
            priority=Priority.IMPORTANT,
            activity=ActivityWindow(
                NOW + timedelta(days=1, microseconds=250_999), NOW + timedelta(days=2)
            ),
            refers_to=OTHER_ID,
        ),
        referenced=sent(notice_id=OTHER_ID),
        client_time=datetime(2026, 11, 21, 9, 29, 58, 7_500, tzinfo=UTC),
    )

    assert NoticeSent(notice).data() == {
        "notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01",
        "subject": "Water main renewal, Mill Lane",
        "body": "We replace 120 m of main; one lane closed, traffic lights at both ends.",
        "priority": "important",
        "activity": {
            "starts_at": "2026-11-22T09:30:00.250Z",
            "ends_at": "2026-11-23T09:30:00.000Z",
        },
        "area": "Mill Lane, numbers 2 to 40",
        "ack_required": True,
        "refers_to": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a02",
        "ack_due_at": "2026-11-22T09:30:00.000Z",
        "client_time": "2026-11-21T09:29:58.007Z",
    }


def test_notice_sent_data_has_nulls_for_what_was_not_given() -> None:
    notice = sent(content(activity=None, area=None, ack_required=False))

    data = NoticeSent(notice).data()

    assert data["activity"] is None
    assert data["area"] is None
    assert data["ack_required"] is False
    assert data["refers_to"] is None
    assert data["ack_due_at"] is None
    assert data["client_time"] is None


def test_notice_received_data_names_only_the_notice() -> None:
    assert _received().data() == {"notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01"}


def test_notice_decided_data_carries_the_reason_and_the_clients_own_time() -> None:
    event = replace(
        _decided(Decision.OBJECTED, OBJECTION), client_time=LATER - timedelta(milliseconds=1)
    )

    assert event.data() == {
        "notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01",
        "reason": OBJECTION,
        "client_time": "2026-11-21T14:29:59.999Z",
    }


def test_notice_acknowledged_data_has_nulls_for_no_reason_and_no_client_time() -> None:
    assert _decided(Decision.ACKNOWLEDGED).data() == {
        "notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01",
        "reason": None,
        "client_time": None,
    }


def test_notice_cancelled_data_carries_the_reason() -> None:
    assert _cancelled().data() == {
        "notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01",
        "reason": "Works postponed",
    }


def test_notice_overdue_data_carries_the_deadline_and_no_actor() -> None:
    event = NoticeOverdue(NOTICE_ID, DUE + timedelta(minutes=1), DUE)

    assert event.data() == {
        "notice": "0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01",
        "due_at": "2026-11-24T09:30:00.000Z",
    }
    assert (event.party, event.operator) == (None, None)


EVERY_EVENT: dict[str, Event] = {
    "notice.sent": NoticeSent(sent()),
    "notice.received": _received(),
    "notice.acknowledged": _decided(Decision.ACKNOWLEDGED),
    "notice.objected": _decided(Decision.OBJECTED, OBJECTION),
    "notice.cancelled": _cancelled(),
    "notice.overdue": NoticeOverdue(NOTICE_ID, DUE, DUE),
}


@pytest.mark.parametrize(("wire_type", "event"), EVERY_EVENT.items(), ids=EVERY_EVENT.keys())
def test_each_event_has_its_type_on_the_wire(wire_type: str, event: Event) -> None:
    assert event.type == wire_type


def _json_values(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_values(v) for key, v in value.items())
    return value is None or isinstance(value, str | bool | int)


@pytest.mark.parametrize("event", EVERY_EVENT.values(), ids=EVERY_EVENT.keys())
def test_each_event_data_is_ready_for_json(event: Event) -> None:
    data = event.data()

    assert _json_values(data), data
    assert json.loads(json.dumps(data)) == data
    assert data["notice"] == str(NOTICE_ID)
