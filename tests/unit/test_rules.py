"""Every command, in every state of a notice, by every kind of actor.

The tables below are the rules of a channel, written so that they can be read: each row
is a state of the notice ``NOTICE_ID`` (sent by the water party to the roads party), each
column who acts, and each cell what comes back, either the events (an empty list for a
harmless repeat) or the refusal. Observers and admins only read, so for each party they
share a column, and each such cell is checked for both of them.

Every command is given at ``LATER``, an hour after the acknowledgement deadline of a
notice sent at ``NOW``, so that the deadline watcher has something to say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID

import pytest

from client.protocol.vocabulary import Decision, EventType, Priority, Role, Status
from server.domain.conflicts import Plan, conflict_id, plan_of
from server.domain.errors import (
    AlreadyDecided,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    NoticeClosed,
    Refusal,
)
from server.domain.events import (
    ConflictDetected,
    ConflictResolved,
    Event,
    NoticeCancelled,
    NoticeDecided,
    NoticeOverdue,
    NoticeReceived,
    NoticeSent,
)
from server.domain.model import (
    ActivityWindow,
    Actor,
    BoundingBox,
    Notice,
    NoticeContent,
    PlanConflict,
)
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
    OTHER_CHANNEL,
    OTHER_ID,
    ROADS_ADMIN,
    ROADS_OBSERVER,
    ROADS_OPERATOR,
    SERVER,
    STATES,
    WATER_ADMIN,
    WATER_OBSERVER,
    WATER_OPERATOR,
    act,
    content,
    notice_in,
    replay,
    sent,
)

LATER = DUE + timedelta(hours=1)

# -- What a cell can hold -----------------------------------------------------------------


@dataclass(frozen=True)
class Events:
    """The command succeeds with events of these types, in this order."""

    types: tuple[EventType, ...] = ()


@dataclass(frozen=True)
class Refused:
    """The command is refused with exactly this class of refusal and this code."""

    refusal: type[Refusal]
    code: str


NOTHING = Events()
SENT = Events((EventType.NOTICE_SENT,))
RECEIVED = Events((EventType.NOTICE_RECEIVED,))
ACKED = Events((EventType.NOTICE_ACKNOWLEDGED,))
RCVD_ACKED = Events((EventType.NOTICE_RECEIVED, EventType.NOTICE_ACKNOWLEDGED))
OBJECTED = Events((EventType.NOTICE_OBJECTED,))
RCVD_OBJ = Events((EventType.NOTICE_RECEIVED, EventType.NOTICE_OBJECTED))
CANCELLED = Events((EventType.NOTICE_CANCELLED,))
OVERDUE = Events((EventType.NOTICE_OVERDUE,))

FORBIDDEN = Refused(Forbidden, "forbidden")
NOT_FOUND = Refused(NotFound, "not-found")
ID_CLASH = Refused(IdempotencyConflict, "notice-id-conflict")
DECIDED = Refused(AlreadyDecided, "already-decided")
CLOSED = Refused(NoticeClosed, "notice-closed")

Outcome = Events | Refused

# -- The commands and the actors -------------------------------------------------------------

COMMANDS: dict[str, Command] = {
    # Sending again under the same id with the same content: a client's retry.
    "send": SendNotice(NOTICE_ID, CONTENT),
    "receipt": RecordReceipt(NOTICE_ID),
    "acknowledge": Decide(NOTICE_ID, Decision.ACKNOWLEDGED),
    "object": Decide(NOTICE_ID, Decision.OBJECTED, reason=OBJECTION),
    "cancel": Cancel(NOTICE_ID, reason="Works postponed"),
    "mark-overdue": MarkOverdue(NOTICE_ID),
}

# The columns of every table, each with the actors it stands for.
COLUMNS: tuple[tuple[tuple[str, Actor | None], ...], ...] = (
    (("sending-operator", WATER_OPERATOR),),
    (("sending-observer", WATER_OBSERVER), ("sending-admin", WATER_ADMIN)),
    (("receiving-operator", ROADS_OPERATOR),),
    (("receiving-observer", ROADS_OBSERVER), ("receiving-admin", ROADS_ADMIN)),
    (("server", SERVER),),
)

# -- The tables ----------------------------------------------------------------------------

Table = dict[str, tuple[Outcome, Outcome, Outcome, Outcome, Outcome]]

#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
SEND: Table = {
    # No notice yet: whichever operator sends it becomes its sender.
    "none":                       (SENT,      FORBIDDEN,     SENT,       FORBIDDEN,      FORBIDDEN),
    # A retry by the sender changes nothing; the other party may not reuse the id.
    "sent":                       (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "delivered":                  (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "acknowledged":               (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "objected":                   (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "cancelled-unreceived":       (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "cancelled-received":         (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "overdue-unreceived":         (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
    "overdue-received":           (NOTHING,   FORBIDDEN,     ID_CLASH,   FORBIDDEN,      FORBIDDEN),
}  # fmt: skip

# Any client of the receiving party confirms receipt, whatever its role; only the first counts.
#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
RECEIPT: Table = {
    "none":                       (NOT_FOUND, NOT_FOUND,     NOT_FOUND,  NOT_FOUND,      FORBIDDEN),
    "sent":                       (FORBIDDEN, FORBIDDEN,     RECEIVED,   RECEIVED,       FORBIDDEN),
    "delivered":                  (FORBIDDEN, FORBIDDEN,     NOTHING,    NOTHING,        FORBIDDEN),
    "acknowledged":               (FORBIDDEN, FORBIDDEN,     NOTHING,    NOTHING,        FORBIDDEN),
    "objected":                   (FORBIDDEN, FORBIDDEN,     NOTHING,    NOTHING,        FORBIDDEN),
    "cancelled-unreceived":       (FORBIDDEN, FORBIDDEN,     RECEIVED,   RECEIVED,       FORBIDDEN),
    "cancelled-received":         (FORBIDDEN, FORBIDDEN,     NOTHING,    NOTHING,        FORBIDDEN),
    "overdue-unreceived":         (FORBIDDEN, FORBIDDEN,     RECEIVED,   RECEIVED,       FORBIDDEN),
    "overdue-received":           (FORBIDDEN, FORBIDDEN,     NOTHING,    NOTHING,        FORBIDDEN),
}  # fmt: skip

# Only an operator of the receiving party decides; deciding implies receipt; the first
# decision stands, and a cancelled notice takes none. Past the deadline it is still possible.
#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
ACKNOWLEDGE: Table = {
    "none":                       (NOT_FOUND, NOT_FOUND,     NOT_FOUND,  NOT_FOUND,      FORBIDDEN),
    "sent":                       (FORBIDDEN, FORBIDDEN,     RCVD_ACKED, FORBIDDEN,      FORBIDDEN),
    "delivered":                  (FORBIDDEN, FORBIDDEN,     ACKED,      FORBIDDEN,      FORBIDDEN),
    "acknowledged":               (FORBIDDEN, FORBIDDEN,     DECIDED,    FORBIDDEN,      FORBIDDEN),
    "objected":                   (FORBIDDEN, FORBIDDEN,     DECIDED,    FORBIDDEN,      FORBIDDEN),
    "cancelled-unreceived":       (FORBIDDEN, FORBIDDEN,     CLOSED,     FORBIDDEN,      FORBIDDEN),
    "cancelled-received":         (FORBIDDEN, FORBIDDEN,     CLOSED,     FORBIDDEN,      FORBIDDEN),
    "overdue-unreceived":         (FORBIDDEN, FORBIDDEN,     RCVD_ACKED, FORBIDDEN,      FORBIDDEN),
    "overdue-received":           (FORBIDDEN, FORBIDDEN,     ACKED,      FORBIDDEN,      FORBIDDEN),
}  # fmt: skip

#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
OBJECT: Table = {
    "none":                       (NOT_FOUND, NOT_FOUND,     NOT_FOUND,  NOT_FOUND,      FORBIDDEN),
    "sent":                       (FORBIDDEN, FORBIDDEN,     RCVD_OBJ,   FORBIDDEN,      FORBIDDEN),
    "delivered":                  (FORBIDDEN, FORBIDDEN,     OBJECTED,   FORBIDDEN,      FORBIDDEN),
    "acknowledged":               (FORBIDDEN, FORBIDDEN,     DECIDED,    FORBIDDEN,      FORBIDDEN),
    "objected":                   (FORBIDDEN, FORBIDDEN,     DECIDED,    FORBIDDEN,      FORBIDDEN),
    "cancelled-unreceived":       (FORBIDDEN, FORBIDDEN,     CLOSED,     FORBIDDEN,      FORBIDDEN),
    "cancelled-received":         (FORBIDDEN, FORBIDDEN,     CLOSED,     FORBIDDEN,      FORBIDDEN),
    "overdue-unreceived":         (FORBIDDEN, FORBIDDEN,     RCVD_OBJ,   FORBIDDEN,      FORBIDDEN),
    "overdue-received":           (FORBIDDEN, FORBIDDEN,     OBJECTED,   FORBIDDEN,      FORBIDDEN),
}  # fmt: skip

# Only an operator of the sending party cancels, and only until the notice is decided;
# cancelling again changes nothing.
#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
CANCEL: Table = {
    "none":                       (NOT_FOUND, NOT_FOUND,     NOT_FOUND,  NOT_FOUND,      FORBIDDEN),
    "sent":                       (CANCELLED, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "delivered":                  (CANCELLED, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "acknowledged":               (CLOSED,    FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "objected":                   (CLOSED,    FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "cancelled-unreceived":       (NOTHING,   FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "cancelled-received":         (NOTHING,   FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "overdue-unreceived":         (CANCELLED, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
    "overdue-received":           (CANCELLED, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      FORBIDDEN),
}  # fmt: skip

# The deadline watcher: only a notice still waiting in SENT or DELIVERED becomes overdue,
# and only the server itself (actor None) may say so.
#                                  sending party             receiving party
#                                  operator   observer/admin operator    observer/admin  server
MARK_OVERDUE: Table = {
    "none":                       (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "sent":                       (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      OVERDUE),
    "delivered":                  (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      OVERDUE),
    "acknowledged":               (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "objected":                   (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "cancelled-unreceived":       (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "cancelled-received":         (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "overdue-unreceived":         (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
    "overdue-received":           (FORBIDDEN, FORBIDDEN,     FORBIDDEN,  FORBIDDEN,      NOTHING),
}  # fmt: skip

TABLES: dict[str, Table] = {
    "send": SEND,
    "receipt": RECEIPT,
    "acknowledge": ACKNOWLEDGE,
    "object": OBJECT,
    "cancel": CANCEL,
    "mark-overdue": MARK_OVERDUE,
}


def _cells() -> list[object]:
    cells = []
    for command_name, table in TABLES.items():
        assert tuple(table) == STATES, f"the {command_name} table must list every state"
        for state, outcomes in table.items():
            for column, outcome in zip(COLUMNS, outcomes, strict=True):
                for actor_name, actor in column:
                    cells.append(
                        pytest.param(
                            COMMANDS[command_name],
                            state,
                            actor,
                            outcome,
                            id=f"{command_name} in {state} by {actor_name}",
                        )
                    )
    return cells


# -- Checking one cell ---------------------------------------------------------------------


def _assert_event_fields(
    event: Event, command: Command, actor: Actor | None, before: Notice | None
) -> None:
    """The key fields of ``event``: whose notice, when, by whom, and what it says."""
    assert event.notice_id == NOTICE_ID
    assert event.at == LATER
    match event:
        case NoticeSent():
            assert isinstance(command, SendNotice)
            assert actor is not None
            assert event.notice.sender_party == actor.party
            assert event.notice.sender_operator == actor.operator
            assert event.notice.channel == CHANNEL.id
            assert event.notice.content == command.content
            assert event.notice.status is Status.SENT
        case NoticeOverdue():
            assert before is not None
            assert event.due_at == before.ack_due_at
            assert (event.party, event.operator) == (None, None)
        case NoticeReceived() | NoticeDecided() | NoticeCancelled():
            assert actor is not None
            assert (event.party, event.operator) == (actor.party, actor.operator)
    if isinstance(event, NoticeDecided):
        assert isinstance(command, Decide)
        assert event.decision is command.decision
        assert event.reason == command.reason
    if isinstance(event, NoticeCancelled):
        assert isinstance(command, Cancel)
        assert event.reason == command.reason


@pytest.mark.parametrize(("command", "state", "actor", "expected"), _cells())
def test_each_command_in_each_state_by_each_actor_gives_what_the_table_says(
    command: Command, state: str, actor: Actor | None, expected: Outcome
) -> None:
    notice = notice_in(state)

    if isinstance(expected, Refused):
        with pytest.raises(Refusal) as refused:
            decide(command, channel=CHANNEL, actor=actor, notice=notice, now=LATER)
        assert type(refused.value) is expected.refusal
        assert refused.value.code == expected.code
    else:
        events = decide(command, channel=CHANNEL, actor=actor, notice=notice, now=LATER)
        assert tuple(event.type for event in events) == expected.types
        for event in events:
            _assert_event_fields(event, command, actor, notice)
        if events:
            assert replay(events, notice) is not None  # every event can follow that state


# -- The rules in the tables, one sentence at a time ----------------------------------------


def test_deciding_an_unreceived_notice_records_its_receipt_first() -> None:
    command = Decide(NOTICE_ID, Decision.ACKNOWLEDGED)

    received, acknowledged = decide(
        command, channel=CHANNEL, actor=ROADS_OPERATOR, notice=sent(), now=LATER
    )

    assert isinstance(received, NoticeReceived)
    assert isinstance(acknowledged, NoticeDecided)
    assert received.at == acknowledged.at == LATER
    assert received.operator == acknowledged.operator == "ben"


def test_a_repeated_receipt_logs_nothing() -> None:
    delivered = act(sent(), RecordReceipt(NOTICE_ID), by=ROADS_OBSERVER, at=LATER)

    again = decide(
        RecordReceipt(NOTICE_ID),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        notice=delivered,
        now=LATER + timedelta(minutes=1),
    )

    assert again == []
    assert delivered.received_by == "rosa"  # the first confirmation is the one on record


def test_second_acknowledgement_is_refused_with_the_first() -> None:
    first = notice_in("acknowledged")
    assert first is not None

    with pytest.raises(AlreadyDecided) as refused:
        decide(
            Decide(NOTICE_ID, Decision.OBJECTED, reason=OBJECTION),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            notice=first,
            now=LATER,
        )

    assert refused.value.notice == first
    assert refused.value.notice.decision is Decision.ACKNOWLEDGED
    assert refused.value.notice_id == NOTICE_ID


def test_a_party_cannot_acknowledge_its_own_notice() -> None:
    with pytest.raises(Forbidden, match="its own notice"):
        decide(
            Decide(NOTICE_ID, Decision.ACKNOWLEDGED),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=sent(),
            now=LATER,
        )


def test_a_decided_notice_cannot_be_cancelled_but_can_be_followed_up() -> None:
    with pytest.raises(NoticeClosed, match="refers to it") as refused:
        decide(
            Cancel(NOTICE_ID),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=notice_in("objected"),
            now=LATER,
        )

    assert refused.value.notice_id == NOTICE_ID


@pytest.mark.parametrize(
    "command",
    [RecordReceipt(NOTICE_ID), Decide(NOTICE_ID, Decision.ACKNOWLEDGED), Cancel(NOTICE_ID)],
    ids=["receipt", "acknowledge", "cancel"],
)
def test_a_notice_of_another_channel_is_not_found(command: Command) -> None:
    elsewhere = sent(channel=OTHER_CHANNEL)
    actor = WATER_OPERATOR if isinstance(command, Cancel) else ROADS_OPERATOR

    with pytest.raises(NotFound) as refused:
        decide(command, channel=CHANNEL, actor=actor, notice=elsewhere, now=LATER)

    assert refused.value.notice_id == NOTICE_ID


def test_another_operator_of_the_sending_party_may_cancel() -> None:
    colleague = Actor(party="water", operator="amir", role=Role.OPERATOR)

    (cancelled,) = decide(
        Cancel(NOTICE_ID), channel=CHANNEL, actor=colleague, notice=sent(), now=LATER
    )

    assert cancelled.operator == "amir"


# -- Idempotent send -----------------------------------------------------------------------


def test_sending_the_same_notice_again_returns_no_new_events() -> None:
    original = sent()

    assert (
        decide(
            SendNotice(NOTICE_ID, content()),  # equal content, built afresh
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=original,
            now=LATER,
        )
        == []
    )


def test_a_retry_from_another_operator_of_the_same_party_returns_no_new_events() -> None:
    colleague = Actor(party="water", operator="amir", role=Role.OPERATOR)

    assert (
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=CHANNEL,
            actor=colleague,
            notice=sent(),
            now=LATER,
        )
        == []
    )


def test_a_retry_is_answered_even_when_its_activity_would_now_be_too_soon() -> None:
    # The retry repeats a send that was accepted; the policy was checked then.
    a_day_before_the_works = NOW + timedelta(days=6)

    assert (
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=sent(),
            now=a_day_before_the_works,
        )
        == []
    )


@pytest.mark.parametrize(
    "other",
    [
        content(subject="Water main renewal, Mill Road"),
        content(body="Two lanes closed."),
        content(priority=Priority.IMPORTANT),
        content(activity=None),
        content(area=None),
        content(ack_required=False),
    ],
    ids=["subject", "body", "priority", "activity", "area", "ack_required"],
)
def test_the_same_id_with_other_content_is_an_idempotency_conflict(
    other: NoticeContent,
) -> None:
    command = SendNotice(NOTICE_ID, other)

    with pytest.raises(IdempotencyConflict) as refused:
        decide(command, channel=CHANNEL, actor=WATER_OPERATOR, notice=sent(), now=LATER)

    assert refused.value.code == "notice-id-conflict"
    assert refused.value.notice_id == NOTICE_ID


def test_the_same_id_and_content_from_the_other_party_is_an_idempotency_conflict() -> None:
    with pytest.raises(IdempotencyConflict):
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            notice=sent(),
            now=LATER,
        )


def test_the_same_id_and_content_in_another_channel_is_an_idempotency_conflict() -> None:
    # Ids are unique for ever, across channels: the id is taken, even if not visible here.
    elsewhere = sent(channel=OTHER_CHANNEL)

    with pytest.raises(IdempotencyConflict):
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=elsewhere,
            now=LATER,
        )


# -- The deadline watcher ------------------------------------------------------------------


def test_marking_overdue_before_the_deadline_logs_nothing() -> None:
    just_before = DUE - timedelta(milliseconds=1)

    assert (
        decide(
            MarkOverdue(NOTICE_ID), channel=CHANNEL, actor=SERVER, notice=sent(), now=just_before
        )
        == []
    )


def test_a_notice_is_overdue_from_the_moment_of_its_deadline() -> None:
    (overdue,) = decide(
        MarkOverdue(NOTICE_ID), channel=CHANNEL, actor=SERVER, notice=sent(), now=DUE
    )

    assert isinstance(overdue, NoticeOverdue)
    assert overdue.at == overdue.due_at == DUE


def test_a_notice_that_needs_no_acknowledgement_never_becomes_overdue() -> None:
    no_ack = sent(content(ack_required=False))

    assert (
        decide(
            MarkOverdue(NOTICE_ID),
            channel=CHANNEL,
            actor=SERVER,
            notice=no_ack,
            now=NOW + timedelta(days=365),
        )
        == []
    )


def test_acknowledging_after_the_deadline_still_works() -> None:
    overdue = notice_in("overdue-received")
    assert overdue is not None

    acknowledged = act(
        overdue, Decide(NOTICE_ID, Decision.ACKNOWLEDGED), by=ROADS_OPERATOR, at=LATER
    )

    assert acknowledged.status is Status.ACKNOWLEDGED
    assert acknowledged.decided_at == LATER
    assert acknowledged.overdue_at == DUE  # the missed deadline stays on record


def test_only_the_server_may_mark_a_notice_overdue() -> None:
    with pytest.raises(Forbidden):
        decide(
            MarkOverdue(NOTICE_ID), channel=CHANNEL, actor=ROADS_OBSERVER, notice=sent(), now=LATER
        )


def test_a_notice_of_another_channel_is_never_marked_overdue_here() -> None:
    events = decide(
        MarkOverdue(NOTICE_ID), channel=OTHER_CHANNEL, actor=SERVER, notice=sent(), now=LATER
    )

    assert events == []


@pytest.mark.parametrize(
    "command",
    [
        SendNotice(NOTICE_ID, CONTENT),
        RecordReceipt(NOTICE_ID),
        Decide(NOTICE_ID, Decision.ACKNOWLEDGED),
        Cancel(NOTICE_ID),
    ],
    ids=["send", "receipt", "acknowledge", "cancel"],
)
def test_only_the_deadline_watcher_acts_without_an_operator(command: Command) -> None:
    with pytest.raises(Forbidden, match="only the server"):
        decide(command, channel=CHANNEL, actor=SERVER, notice=sent(), now=LATER)


# -- Conflicting plans -------------------------------------------------------------------------

RESURFACING_ID = UUID("0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a03")
ON_MILL_LANE = ActivityWindow(NOW + timedelta(days=7), NOW + timedelta(days=9))
"""The water works of ``CONTENT``."""
RESURFACING = content(
    subject="Resurfacing, Mill Lane",
    activity=ActivityWindow(NOW + timedelta(days=8), NOW + timedelta(days=10)),
    area="  mill lane, NUMBERS 2 to 40",
)
"""The roads department's works, in the same street from the second day of the water works."""


def _plans(*notices: Notice) -> list[Plan]:
    found = [plan_of(notice) for notice in notices]
    return [plan for plan in found if plan is not None]


def _detected(water: Notice, roads_id: UUID = RESURFACING_ID) -> PlanConflict:
    pair = (water.id, roads_id)
    return PlanConflict(conflict_id(*pair), CHANNEL.id, pair, NOW)


def test_a_plan_that_clashes_with_an_active_one_is_sent_then_the_conflict_detected() -> None:
    water = sent()

    sent_, detected = decide(
        SendNotice(RESURFACING_ID, RESURFACING),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        notice=None,
        now=NOW,
        plans=_plans(water),
    )

    assert isinstance(sent_, NoticeSent)
    assert detected == ConflictDetected(
        conflict_id(NOTICE_ID, RESURFACING_ID),
        NOW,
        (NOTICE_ID, RESURFACING_ID),  # the earlier notice first
        "mill lane, numbers 2 to 40",
        ActivityWindow(NOW + timedelta(days=8), NOW + timedelta(days=9)),
    )
    assert (detected.party, detected.operator) == (None, None)


def test_a_plan_clashing_with_several_is_told_of_each() -> None:
    other_water = sent(content(subject="Hydrant test"), notice_id=OTHER_ID)

    events = decide(
        SendNotice(RESURFACING_ID, RESURFACING),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        notice=None,
        now=NOW,
        plans=_plans(sent(), other_water),
    )

    assert [e.type for e in events] == [
        EventType.NOTICE_SENT,
        EventType.CONFLICT_DETECTED,
        EventType.CONFLICT_DETECTED,
    ]


@pytest.mark.parametrize(
    "notice_content",
    [
        content(subject="Resurfacing", area="Mill Road"),
        content(subject="Resurfacing", activity=None),
        content(subject="Resurfacing", area=None),
        content(
            subject="Resurfacing",
            activity=ActivityWindow(NOW + timedelta(days=9), NOW + timedelta(days=10)),
        ),
    ],
    ids=["other-street", "no-window", "no-area", "starts-as-the-other-ends"],
)
def test_a_notice_that_shares_no_place_or_time_with_active_plans_is_only_sent(
    notice_content: NoticeContent,
) -> None:
    events = decide(
        SendNotice(RESURFACING_ID, notice_content),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        notice=None,
        now=NOW,
        plans=_plans(sent()),
    )

    assert [e.type for e in events] == [EventType.NOTICE_SENT]


def test_a_retried_send_says_nothing_about_conflicts_again() -> None:
    resurfacing = sent(RESURFACING, notice_id=RESURFACING_ID, by=ROADS_OPERATOR)

    events = decide(
        SendNotice(RESURFACING_ID, RESURFACING),
        channel=CHANNEL,
        actor=ROADS_OPERATOR,
        notice=resurfacing,
        now=LATER,
        plans=_plans(sent()),
        conflicts=[_detected(sent())],
    )

    assert events == []


def test_an_update_that_moves_the_works_resolves_the_conflicts_of_the_plan_it_replaces() -> None:
    water = sent()
    moved = content(
        activity=ActivityWindow(NOW + timedelta(days=12), NOW + timedelta(days=14)),
        refers_to=NOTICE_ID,
    )

    events = decide(
        SendNotice(OTHER_ID, moved),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=None,
        now=NOW + timedelta(hours=1),
        referenced=water,
        plans=_plans(sent(RESURFACING, notice_id=RESURFACING_ID, by=ROADS_OPERATOR)),
        conflicts=[_detected(water)],
    )

    sent_, resolved = events
    assert isinstance(sent_, NoticeSent)
    assert resolved == ConflictResolved(
        conflict_id(NOTICE_ID, RESURFACING_ID),
        NOW + timedelta(hours=1),
        (NOTICE_ID, RESURFACING_ID),
        OTHER_ID,
        "updated",
    )
    assert resolved.data()["reason"] == "updated"
    assert resolved.data()["by"] == str(OTHER_ID)


def test_an_update_that_still_clashes_resolves_the_old_conflict_and_detects_its_own() -> None:
    water = sent()
    shortened = content(
        activity=ActivityWindow(NOW + timedelta(days=7), NOW + timedelta(days=8, hours=12)),
        refers_to=NOTICE_ID,
    )

    events = decide(
        SendNotice(OTHER_ID, shortened),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=None,
        now=NOW,
        referenced=water,
        plans=_plans(sent(RESURFACING, notice_id=RESURFACING_ID, by=ROADS_OPERATOR)),
        conflicts=[_detected(water)],
    )

    assert [e.type for e in events] == [
        EventType.NOTICE_SENT,
        EventType.CONFLICT_RESOLVED,
        EventType.CONFLICT_DETECTED,
    ]
    detected = events[2]
    assert isinstance(detected, ConflictDetected)
    assert detected.notices == (RESURFACING_ID, OTHER_ID)


@pytest.mark.parametrize(
    ("by", "activity"),
    [(ROADS_OPERATOR, ON_MILL_LANE), (WATER_OPERATOR, None)],
    ids=["a-reply-of-the-other-party", "an-addendum-without-a-window"],
)
def test_a_notice_that_refers_to_a_plan_without_replacing_it_resolves_nothing(
    by: Actor, activity: ActivityWindow | None
) -> None:
    water = sent()

    events = decide(
        SendNotice(
            OTHER_ID, content(subject="About the works", activity=activity, refers_to=NOTICE_ID)
        ),
        channel=CHANNEL,
        actor=by,
        notice=None,
        now=NOW,
        referenced=water,
        conflicts=[_detected(water)],
    )

    assert EventType.CONFLICT_RESOLVED not in [e.type for e in events]


def test_cancelling_a_plan_resolves_its_open_conflicts() -> None:
    water = sent()
    resolved_already = replace(_detected(water, OTHER_ID), resolved_at=NOW + timedelta(minutes=5))
    elsewhere = PlanConflict(UUID(int=9), CHANNEL.id, (OTHER_ID, RESURFACING_ID), NOW)

    events = decide(
        Cancel(NOTICE_ID, reason="Works postponed"),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=water,
        now=LATER,
        conflicts=[_detected(water), resolved_already, elsewhere],
    )

    cancelled, resolved = events
    assert isinstance(cancelled, NoticeCancelled)
    assert resolved == ConflictResolved(
        conflict_id(NOTICE_ID, RESURFACING_ID),
        LATER,
        (NOTICE_ID, RESURFACING_ID),
        NOTICE_ID,
        "cancelled",
    )


def test_a_retried_cancellation_resolves_nothing_again() -> None:
    cancelled = notice_in("cancelled-received")
    assert cancelled is not None

    events = decide(
        Cancel(NOTICE_ID),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=cancelled,
        now=LATER,
        conflicts=[_detected(sent())],
    )

    assert events == []


# -- Where, as a box ---------------------------------------------------------------------------


def test_a_bbox_is_part_of_a_notices_content_for_retries() -> None:
    boxed = content(bbox=BoundingBox(-1.2601, 51.7520, -1.2590, 51.7526))
    original = sent(boxed)

    assert (
        decide(
            SendNotice(NOTICE_ID, boxed),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=original,
            now=LATER,
        )
        == []
    )
    with pytest.raises(IdempotencyConflict):
        decide(
            SendNotice(NOTICE_ID, CONTENT),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=original,
            now=LATER,
        )
