"""The one clock, its pure half: what each due action fires, when, and what follows it.

A small fake store below keeps the due actions of one channel in a list and fires them in
order of their time with an injected ``now``, as the scheduler does with its table: every
test drives time by hand, and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.vocabulary import Decision, EventType, Priority, Status
from server.domain.agreement import evolve_channel
from server.domain.checks import AnswerCheck, answer_check, evolve_check
from server.domain.clock import Due, DueKind, Fired, check_id, fire, scheduled, tick_id
from server.domain.events import (
    CheckAnswered,
    CheckMissed,
    CheckRequested,
    LogEvent,
    NoticeCancelled,
    NoticeDecided,
    NoticeEscalated,
    NoticeOverdue,
    NoticeReceived,
    NoticeReminded,
    NoticeSent,
    PolicyChanged,
    PolicyProposed,
    evolve,
)
from server.domain.model import Actor, Channel, Chase, Check, Checks, Notice, Policy
from server.domain.rules import Cancel, Decide, RecordReceipt, decide
from tests.unit.builders import (
    CHANNEL,
    NOTICE_ID,
    NOW,
    OTHER_CHANNEL,
    ROADS_OPERATOR,
    WATER_OPERATOR,
    content,
    sent,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)

ADMINS: Mapping[str, tuple[str, ...]] = {"water": ("walt",), "roads": ("rick", "rita")}
"""Each party's admins, as the store reads them: whom escalations go to by default."""

URGENT_DEADLINE = NOW + HOUR
"""When an urgent notice sent at ``NOW`` must be acknowledged (the default policy)."""


def urgent() -> Notice:
    """The water utility's urgent notice, sent at ``NOW`` to the roads department."""
    return sent(content(priority=Priority.URGENT))


# -- A fake store and scheduler ---------------------------------------------------------------


@dataclass
class Store:
    """One channel's state, log and due actions, kept as the real store keeps them."""

    channel: Channel = CHANNEL
    notice: Notice | None = None
    checks: dict[UUID, Check] = field(default_factory=dict)
    dues: list[Due] = field(default_factory=list)
    log: list[LogEvent] = field(default_factory=list)
    late: timedelta = timedelta(0)
    """How long after its time the scheduler gets round to each due action."""

    def append(self, events: Iterable[LogEvent]) -> None:
        """Log the events of one command, fold them into the state, keep the dues they start."""
        events = list(events)
        for event in events:
            self.log.append(event)
            match event:
                case CheckRequested() | CheckAnswered() | CheckMissed():
                    check = self.checks.get(event.check_id)
                    self.checks[event.check_id] = evolve_check(
                        check, event, channel=self.channel.id
                    )
                case PolicyProposed() | PolicyChanged():
                    self.channel = evolve_channel(self.channel, event)
                case _:
                    self.notice = fold(self.notice, [event])
        self.dues.extend(scheduled(events, self.channel))

    def run_until(self, moment: datetime) -> list[LogEvent]:
        """Fire every due action due by ``moment``, in order of time; return what was logged."""
        start = len(self.log)
        while self.dues:
            due = min(self.dues, key=lambda d: d.due_at)
            if due.due_at > moment:
                break
            self.dues.remove(due)
            fired = fire(
                due,
                channel=self.channel,
                now=due.due_at + self.late,
                notice=self.notice,
                checks=list(self.checks.values()),
                admins=ADMINS,
            )
            self.append(fired.events)
            self.dues.extend(fired.next)
        return self.log[start:]


NOTICE_EVENTS = (
    NoticeSent,
    NoticeReceived,
    NoticeDecided,
    NoticeCancelled,
    NoticeOverdue,
    NoticeReminded,
    NoticeEscalated,
)


def fold(notice: Notice | None, events: Iterable[LogEvent]) -> Notice:
    """``notice`` after the events of its life, as the store keeps it."""
    for event in events:
        assert isinstance(event, NOTICE_EVENTS), f"{event.type} is not a notice's event"
        notice = evolve(notice, event)
    assert notice is not None
    return notice


def sending(notice: Notice, *, channel: Channel = CHANNEL, late: timedelta = timedelta(0)) -> Store:
    """A store whose log holds ``notice``'s sending, and the due actions it started."""
    store = Store(channel=channel, late=late)
    store.append([NoticeSent(notice)])
    return store


def timeline(events: Iterable[LogEvent]) -> list[tuple[EventType, datetime]]:
    """Each event's type and time, in time order (ties in type order)."""
    return sorted(((event.type, event.at) for event in events), key=lambda e: (e[1], e[0]))


def overdue(notice: Notice) -> Notice:
    """``notice`` once its deadline passed, by the clock's own overdue due action."""
    assert notice.ack_due_at is not None
    due = Due(DueKind.OVERDUE, notice.channel, notice.id, notice.ack_due_at)
    (event,) = fire(due, channel=CHANNEL, now=notice.ack_due_at, notice=notice).events
    assert isinstance(event, NoticeOverdue)
    return evolve(notice, event)


# -- What starts a chase ------------------------------------------------------------------------


def test_sending_a_notice_schedules_its_deadline() -> None:
    notice = urgent()

    assert scheduled([NoticeSent(notice)], CHANNEL) == [
        Due(DueKind.OVERDUE, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE)
    ]


def test_a_notice_that_needs_no_acknowledgement_schedules_nothing() -> None:
    assert scheduled([NoticeSent(sent(content(ack_required=False)))], CHANNEL) == []


# -- Never early --------------------------------------------------------------------------------


def _live_context(kind: DueKind) -> tuple[Due, Channel, Notice, list[Check]]:
    """A due action of ``kind`` that fires something at its time, with what it needs."""
    if kind is DueKind.REQUEST_CHECKS:
        channel = with_checks()
        return Due(kind, channel.id, tick_id(channel), NOW + HOUR), channel, urgent(), []
    if kind is DueKind.CHECK_MISSED:
        check = asked("roads")
        return Due(kind, CHANNEL.id, check.id, check.answer_by), CHANNEL, urgent(), [check]
    if kind is DueKind.OVERDUE:
        return Due(kind, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE), CHANNEL, urgent(), []
    # At the times the policy in force gives: reminder 1 after 15 minutes, escalation at 1 hour.
    if kind is DueKind.REMIND:
        due = Due(kind, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + 15 * MINUTE, n=1)
    else:
        due = Due(kind, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + HOUR)
    return due, CHANNEL, overdue(urgent()), []


@settings(database=None)
@given(st.sampled_from(DueKind), st.integers(1, 30 * 24 * 3600 * 1000))
def test_a_due_action_handed_over_early_fires_nothing_and_comes_back(
    kind: DueKind, early_ms: int
) -> None:
    due, channel, notice, checks = _live_context(kind)

    def at(now: datetime) -> Fired:
        return fire(due, channel=channel, now=now, notice=notice, checks=checks, admins=ADMINS)

    assert at(due.due_at - early_ms * MS) == Fired(events=[], next=[due])
    assert at(due.due_at).events  # on time, the same due action does fire


def test_a_due_action_a_fraction_of_a_millisecond_early_is_still_early() -> None:
    # The clock reads to the millisecond: 09:30:00.0009 is 09:30:00.000, before 09:30:00.001.
    due, channel, notice, _ = _live_context(DueKind.OVERDUE)
    due = replace(due, due_at=due.due_at + MS)

    fired = fire(due, channel=channel, now=due.due_at - timedelta(microseconds=100), notice=notice)

    assert fired == Fired(next=[due])


# -- The chase of one notice --------------------------------------------------------------------


def test_an_urgent_notice_left_undecided_is_chased_at_exactly_the_policys_times() -> None:
    store = sending(urgent())

    logged = store.run_until(NOW + 30 * DAY)

    deadline = URGENT_DEADLINE
    assert timeline(logged) == [
        (EventType.NOTICE_OVERDUE, deadline),
        (EventType.NOTICE_REMINDED, deadline + 15 * MINUTE),
        (EventType.NOTICE_REMINDED, deadline + 30 * MINUTE),
        (EventType.NOTICE_REMINDED, deadline + 45 * MINUTE),
        (EventType.NOTICE_ESCALATED, deadline + HOUR),
        (EventType.NOTICE_REMINDED, deadline + HOUR),
    ]
    assert store.dues == []  # the chase is over: nothing left to fire, ever


def test_a_routine_notice_is_reminded_daily_twice_and_escalates_after_three_days() -> None:
    store = sending(sent())
    deadline = NOW + 3 * DAY

    logged = store.run_until(NOW + 30 * DAY)

    assert timeline(logged) == [
        (EventType.NOTICE_OVERDUE, deadline),
        (EventType.NOTICE_REMINDED, deadline + DAY),
        (EventType.NOTICE_REMINDED, deadline + 2 * DAY),
        (EventType.NOTICE_ESCALATED, deadline + 3 * DAY),
    ]


def test_a_chase_follows_the_policy_in_force() -> None:
    chase = Chase(
        remind_after=5 * MINUTE, remind_every=10 * MINUTE, reminders=3, escalate_after=20 * MINUTE
    )
    policy = Policy(chase={p: chase for p in Priority})
    channel = replace(CHANNEL, policy=policy)
    store = sending(sent(content(priority=Priority.URGENT), channel=channel), channel=channel)

    logged = store.run_until(NOW + 30 * DAY)

    deadline = URGENT_DEADLINE
    assert timeline(logged) == [
        (EventType.NOTICE_OVERDUE, deadline),
        (EventType.NOTICE_REMINDED, deadline + 5 * MINUTE),
        (EventType.NOTICE_REMINDED, deadline + 15 * MINUTE),
        (EventType.NOTICE_ESCALATED, deadline + 20 * MINUTE),
        (EventType.NOTICE_REMINDED, deadline + 25 * MINUTE),
    ]


def test_reminders_count_up_to_the_policys_number_and_name_the_receiving_party() -> None:
    logged = sending(urgent()).run_until(NOW + 30 * DAY)

    reminders = [event for event in logged if isinstance(event, NoticeReminded)]

    assert [(r.reminder, r.of, r.receiver) for r in reminders] == [
        (1, 4, "roads"),
        (2, 4, "roads"),
        (3, 4, "roads"),
        (4, 4, "roads"),
    ]
    assert reminders[0].data() == {
        "notice": str(NOTICE_ID),
        "due_at": "2026-11-21T10:45:00.000Z",
        "party": "roads",
        "reminder": 1,
        "of": 4,
    }


def test_a_chase_with_no_reminders_and_no_escalation_ends_at_overdue() -> None:
    quiet = Policy(chase={p: Chase(HOUR, HOUR, 0, None) for p in Priority})
    channel = replace(CHANNEL, policy=quiet)
    store = sending(urgent(), channel=channel)

    logged = store.run_until(NOW + 30 * DAY)

    assert timeline(logged) == [(EventType.NOTICE_OVERDUE, URGENT_DEADLINE)]
    assert store.dues == []


def test_a_late_server_stamps_each_event_with_when_it_fired_and_when_it_was_due() -> None:
    store = sending(urgent(), late=7 * MINUTE)

    overdue_, first, *_ = store.run_until(NOW + 30 * DAY)

    assert isinstance(overdue_, NoticeOverdue)
    assert overdue_.at == URGENT_DEADLINE + 7 * MINUTE
    assert overdue_.data()["due_at"] == "2026-11-21T10:30:00.000Z"
    assert isinstance(first, NoticeReminded)
    assert first.at == URGENT_DEADLINE + 22 * MINUTE
    assert first.data()["due_at"] == "2026-11-21T10:45:00.000Z"  # as the policy set it


def test_a_server_down_through_the_whole_chase_catches_up_with_every_step_once() -> None:
    # Down for a day: each step fires once on its return, each stamped with its due time.
    store = sending(urgent(), late=DAY)

    logged = store.run_until(NOW + 30 * DAY)

    assert [e.type for e in logged].count(EventType.NOTICE_REMINDED) == 4
    assert [e.type for e in logged].count(EventType.NOTICE_ESCALATED) == 1
    due_times = [e.data()["due_at"] for e in logged]
    assert len(set(due_times)) == len(due_times) - 1  # reminder 4 and the escalation share one


def test_the_clock_stamps_to_the_millisecond() -> None:
    notice = urgent()
    due = Due(DueKind.OVERDUE, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE)

    (event,) = fire(
        due, channel=CHANNEL, now=URGENT_DEADLINE + timedelta(microseconds=2_999), notice=notice
    ).events

    assert event.at == URGENT_DEADLINE + 2 * MS


# -- What stops a chase -------------------------------------------------------------------------


@pytest.mark.parametrize("decision", list(Decision))
def test_a_decision_stops_the_chase(decision: Decision) -> None:
    store = sending(urgent())
    store.run_until(URGENT_DEADLINE + 35 * MINUTE)  # overdue, two reminders
    reason = "Not that week" if decision is Decision.OBJECTED else None
    store.append(
        decide(
            Decide(NOTICE_ID, decision, reason=reason),
            channel=CHANNEL,
            actor=ROADS_OPERATOR,
            notice=store.notice,
            now=URGENT_DEADLINE + 40 * MINUTE,
        )
    )

    assert store.run_until(NOW + 30 * DAY) == []


def test_a_cancellation_stops_the_chase() -> None:
    store = sending(urgent())
    store.run_until(URGENT_DEADLINE + 20 * MINUTE)
    cancel = Cancel(NOTICE_ID, reason="Burst fixed")
    store.append(
        decide(
            cancel,
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=store.notice,
            now=URGENT_DEADLINE + 21 * MINUTE,
        )
    )

    assert store.run_until(NOW + 30 * DAY) == []


def test_a_receipt_does_not_stop_the_chase() -> None:
    # Having the notice is not deciding on it.
    store = sending(urgent())
    store.run_until(URGENT_DEADLINE + 20 * MINUTE)
    receipt = RecordReceipt(NOTICE_ID)
    at = URGENT_DEADLINE + 21 * MINUTE
    store.append(
        decide(receipt, channel=CHANNEL, actor=ROADS_OPERATOR, notice=store.notice, now=at)
    )

    assert len(store.run_until(NOW + 30 * DAY)) == 4  # reminders 2 to 4 and the escalation


def _decided_or_cancelled(state: str) -> Notice:
    notice = overdue(urgent())
    command: Decide | Cancel
    actor: Actor
    if state == "cancelled":
        command, actor = Cancel(NOTICE_ID), WATER_OPERATOR
    else:
        decision = Decision(state)
        reason = "Not that week" if decision is Decision.OBJECTED else None
        command, actor = Decide(NOTICE_ID, decision, reason=reason), ROADS_OPERATOR
    events = decide(command, channel=CHANNEL, actor=actor, notice=notice, now=URGENT_DEADLINE)
    return fold(notice, events)


@pytest.mark.parametrize("state", ["acknowledged", "objected", "cancelled"])
@pytest.mark.parametrize("kind", [DueKind.OVERDUE, DueKind.REMIND, DueKind.ESCALATE])
def test_a_decided_or_cancelled_notice_fires_nothing(kind: DueKind, state: str) -> None:
    notice = _decided_or_cancelled(state)
    due = Due(kind, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE, n=1 if kind is DueKind.REMIND else 0)

    fired = fire(due, channel=CHANNEL, now=NOW + DAY, notice=notice, admins=ADMINS)

    assert fired == Fired()


def test_a_second_copy_of_the_overdue_due_action_marks_the_notice_once() -> None:
    due = Due(DueKind.OVERDUE, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE)

    assert fire(due, channel=CHANNEL, now=NOW + DAY, notice=overdue(urgent())) == Fired()


@pytest.mark.parametrize("kind", [DueKind.OVERDUE, DueKind.REMIND, DueKind.ESCALATE])
def test_a_notice_unknown_or_of_another_channel_fires_nothing(kind: DueKind) -> None:
    due = Due(kind, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE, n=1 if kind is DueKind.REMIND else 0)
    elsewhere = overdue(urgent())

    assert fire(due, channel=CHANNEL, now=NOW + DAY, notice=None) == Fired()
    assert fire(due, channel=OTHER_CHANNEL, now=NOW + DAY, notice=elsewhere) == Fired()


# -- A policy that changed mid-chase ------------------------------------------------------------


def _with_chase(chase: Chase) -> Channel:
    return replace(CHANNEL, policy=Policy(chase={p: chase for p in Priority}))


def test_a_policy_that_now_sends_fewer_reminders_sends_no_more() -> None:
    channel = _with_chase(Chase(15 * MINUTE, 15 * MINUTE, 2, HOUR))
    third = Due(DueKind.REMIND, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + 45 * MINUTE, n=3)

    fired = fire(third, channel=channel, now=third.due_at, notice=overdue(urgent()))

    assert fired == Fired()


def test_a_reminder_that_is_the_last_under_a_changed_policy_says_so_and_ends_the_reminders() -> (
    None
):
    channel = _with_chase(Chase(15 * MINUTE, 15 * MINUTE, 2, HOUR))
    second = Due(DueKind.REMIND, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + 30 * MINUTE, n=2)

    fired = fire(second, channel=channel, now=second.due_at, notice=overdue(urgent()))

    (reminded,) = fired.events
    assert isinstance(reminded, NoticeReminded)
    assert (reminded.reminder, reminded.of) == (2, 2)
    assert fired.next == []


def test_a_policy_that_now_sends_more_reminders_carries_on_to_its_number() -> None:
    channel = _with_chase(Chase(15 * MINUTE, 10 * MINUTE, 6, HOUR))
    fourth = Due(DueKind.REMIND, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + HOUR, n=4)

    fired = fire(fourth, channel=channel, now=fourth.due_at, notice=overdue(urgent()))

    assert fired.next == [
        Due(DueKind.REMIND, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + 55 * MINUTE, n=5)
    ]


def test_a_policy_that_no_longer_escalates_does_not_escalate() -> None:
    channel = _with_chase(Chase(15 * MINUTE, 15 * MINUTE, 4, None))
    escalation = Due(DueKind.ESCALATE, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + HOUR)

    fired = fire(escalation, channel=channel, now=escalation.due_at, notice=overdue(urgent()))

    assert fired == Fired()


# -- Whom an escalation goes to -----------------------------------------------------------------


def _escalated(channel: Channel, admins: Mapping[str, tuple[str, ...]]) -> NoticeEscalated:
    due = Due(DueKind.ESCALATE, CHANNEL.id, NOTICE_ID, URGENT_DEADLINE + HOUR)
    (event,) = fire(
        due, channel=channel, now=due.due_at, notice=overdue(urgent()), admins=admins
    ).events
    assert isinstance(event, NoticeEscalated)
    return event


def test_an_escalation_goes_to_the_receiving_partys_admins_by_default() -> None:
    event = _escalated(CHANNEL, ADMINS)

    assert event.data() == {
        "notice": str(NOTICE_ID),
        "due_at": "2026-11-21T11:30:00.000Z",
        "party": "roads",
        "to": ["rick", "rita"],
    }


def test_an_escalation_goes_to_the_operators_on_duty_the_policy_names() -> None:
    on_duty = replace(CHANNEL, policy=Policy(escalate_to={"roads": ("ben",), "water": ("ada",)}))

    assert _escalated(on_duty, ADMINS).to == ("ben",)


def test_an_escalation_with_nobody_on_duty_named_goes_to_the_admins() -> None:
    nobody = replace(CHANNEL, policy=Policy(escalate_to={"roads": ()}))

    assert _escalated(nobody, ADMINS).to == ("rick", "rita")


def test_an_escalation_for_a_party_with_nobody_to_tell_is_still_logged() -> None:
    assert _escalated(CHANNEL, {}).to == ()


# -- Liveness checks ----------------------------------------------------------------------------

HOURLY = Checks(every=HOUR, answer_within=5 * MINUTE)
PROPOSAL_ID = UUID("6f1c1d2e-8a55-4b7e-9d1c-1b2a3c4d5e01")
ACCEPTED_AT = NOW


def _accepted(policy: Policy, proposal_id: UUID = PROPOSAL_ID) -> PolicyChanged:
    return PolicyChanged(proposal_id, ACCEPTED_AT, "roads", "rick", policy, ("water", "walt"))


def with_checks(checks: Checks = HOURLY) -> Channel:
    """The channel once both parties agreed to a policy with liveness checks."""
    return evolve_channel(CHANNEL, _accepted(Policy(checks=checks)))


def asked(party: str, *, at: datetime = NOW + HOUR) -> Check:
    """A check the first hourly tick asked ``party``, as the store keeps it."""
    tick = tick_id(with_checks())
    event = CheckRequested(
        check_id(tick, NOW + HOUR, party), at, NOW + HOUR, party, at + HOURLY.answer_within
    )
    return evolve_check(None, event, channel=CHANNEL.id)


def test_agreeing_to_checks_schedules_the_first_tick_one_interval_later() -> None:
    event = _accepted(Policy(checks=HOURLY))
    channel = evolve_channel(CHANNEL, event)

    assert scheduled([event], channel) == [
        Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(channel), NOW + HOUR)
    ]


@pytest.mark.parametrize(
    "event",
    [
        _accepted(Policy()),
        PolicyProposed(PROPOSAL_ID, NOW, "water", "walt", Policy(checks=HOURLY), NOW + DAY),
    ],
    ids=["accepted-without-checks", "proposed-with-checks"],
)
def test_a_policy_without_checks_or_not_yet_agreed_schedules_no_tick(
    event: PolicyChanged | PolicyProposed,
) -> None:
    channel = evolve_channel(CHANNEL, event)

    assert scheduled([event], channel) == []


def test_a_tick_asks_both_parties_and_schedules_their_misses_and_the_next_tick() -> None:
    channel = with_checks()
    tick = Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(channel), NOW + HOUR)

    fired = fire(tick, channel=channel, now=tick.due_at)

    water, roads = (check_id(tick.subject, tick.due_at, party) for party in ("water", "roads"))
    answer_by = NOW + HOUR + 5 * MINUTE
    assert fired.events == [
        CheckRequested(water, NOW + HOUR, NOW + HOUR, "water", answer_by),
        CheckRequested(roads, NOW + HOUR, NOW + HOUR, "roads", answer_by),
    ]
    assert fired.next == [
        Due(DueKind.CHECK_MISSED, CHANNEL.id, water, answer_by),
        Due(DueKind.CHECK_MISSED, CHANNEL.id, roads, answer_by),
        Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick.subject, NOW + 2 * HOUR),
    ]


def test_a_late_tick_asks_once_and_skips_the_ticks_slept_through() -> None:
    channel = with_checks()
    tick = Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(channel), NOW + HOUR)
    woke = NOW + 4 * HOUR + 30 * MINUTE

    fired = fire(tick, channel=channel, now=woke)

    assert [e.type for e in fired.events] == [EventType.CHECK_REQUESTED] * 2
    first = fired.events[0]
    assert first.at == woke  # asked when it fired...
    assert first.data()["due_at"] == "2026-11-21T10:30:00.000Z"  # ...for the tick it was
    assert first.data()["answer_by"] == "2026-11-21T14:05:00.000Z"  # a full window to answer
    assert fired.next[-1] == Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick.subject, NOW + 5 * HOUR)


def test_a_tick_fired_exactly_at_a_later_tick_schedules_the_one_after_it() -> None:
    channel = with_checks()
    tick = Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(channel), NOW + HOUR)

    fired = fire(tick, channel=channel, now=NOW + 3 * HOUR)

    assert fired.next[-1].due_at == NOW + 4 * HOUR


def test_a_tick_of_a_policy_no_longer_in_force_fires_nothing() -> None:
    old = with_checks()
    tick = Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(old), NOW + HOUR)
    other_checks = evolve_channel(
        old, _accepted(Policy(checks=Checks(2 * HOUR, MINUTE)), UUID(int=2))
    )
    no_checks = evolve_channel(old, _accepted(Policy(), UUID(int=3)))

    for channel in (other_checks, no_checks):
        assert fire(tick, channel=channel, now=NOW + 10 * HOUR) == Fired()


def test_each_policy_has_its_own_schedule_and_each_tick_its_own_checks() -> None:
    first = with_checks()
    second = evolve_channel(first, _accepted(Policy(checks=HOURLY), UUID(int=2)))
    tick = tick_id(first)

    assert tick_id(first) == tick_id(replace(first))  # the same in every process
    assert tick_id(second) != tick
    assert tick_id(CHANNEL) != tick  # the policy the channel began with
    ids = {check_id(tick, NOW + n * HOUR, party) for n in (1, 2) for party in ("water", "roads")}
    assert len(ids) == 4


def test_a_checks_id_depends_on_the_moment_not_on_how_its_zone_is_spelt() -> None:
    # A database driver may hand a time back in its session's zone.
    tick = tick_id(with_checks())
    paris = timezone(timedelta(hours=1), "CET")

    assert check_id(tick, NOW, "roads") == check_id(tick, NOW.astimezone(paris), "roads")


def test_a_check_unanswered_when_its_window_closes_is_missed_and_escalates() -> None:
    check = asked("roads")
    due = Due(DueKind.CHECK_MISSED, CHANNEL.id, check.id, check.answer_by)
    late = check.answer_by + 3 * MINUTE

    fired = fire(due, channel=CHANNEL, now=late, checks=[asked("water"), check], admins=ADMINS)

    assert fired.events == [CheckMissed(check.id, late, check.answer_by, "roads", ("rick", "rita"))]
    assert fired.next == []
    assert fired.events[0].data() == {
        "check": str(check.id),
        "party": "roads",
        "due_at": "2026-11-21T10:35:00.000Z",
        "to": ["rick", "rita"],
    }


def test_a_missed_check_escalates_to_the_operators_on_duty() -> None:
    channel = replace(CHANNEL, policy=Policy(escalate_to={"roads": ("ben",)}))
    check = asked("roads")
    due = Due(DueKind.CHECK_MISSED, CHANNEL.id, check.id, check.answer_by)

    (event,) = fire(due, channel=channel, now=check.answer_by, checks=[check], admins=ADMINS).events

    assert isinstance(event, CheckMissed)
    assert event.to == ("ben",)


def test_a_check_answered_in_time_is_never_missed() -> None:
    check = asked("roads")
    (answer,) = answer_check(
        AnswerCheck(check.id), channel=CHANNEL, actor=ROADS_OPERATOR, check=check, now=NOW + HOUR
    )
    due = Due(DueKind.CHECK_MISSED, CHANNEL.id, check.id, check.answer_by)

    fired = fire(
        due,
        channel=CHANNEL,
        now=check.answer_by,
        checks=[evolve_check(check, answer, channel=CHANNEL.id)],
    )

    assert fired == Fired()


def test_a_check_missed_already_or_unknown_fires_nothing() -> None:
    check = asked("roads")
    missed = evolve_check(
        check,
        CheckMissed(check.id, check.answer_by, check.answer_by, "roads", ()),
        channel=CHANNEL.id,
    )
    due = Due(DueKind.CHECK_MISSED, CHANNEL.id, check.id, check.answer_by)

    assert fire(due, channel=CHANNEL, now=NOW + DAY, checks=[missed]) == Fired()
    assert fire(due, channel=CHANNEL, now=NOW + DAY, checks=[asked("water")]) == Fired()
    assert fire(due, channel=CHANNEL, now=NOW + DAY) == Fired()


def test_three_hours_of_checks_where_the_water_side_answers_and_the_roads_side_does_not() -> None:
    store = Store()
    store.append([_accepted(Policy(checks=HOURLY))])
    for hour in (1, 2, 3):
        store.run_until(NOW + hour * HOUR)
        for check in list(store.checks.values()):
            if check.party == "water" and check.answered_at is None:
                store.append(
                    answer_check(
                        AnswerCheck(check.id),
                        channel=store.channel,
                        actor=WATER_OPERATOR,
                        check=check,
                        now=NOW + hour * HOUR + 30 * timedelta(seconds=1),
                    )
                )
    store.run_until(NOW + 3 * HOUR + 10 * MINUTE)

    by_party = {
        party: [(e.type, e.at) for e in store.log if e.data().get("party") == party]
        for party in ("water", "roads")
    }
    assert by_party["roads"] == [
        entry
        for hour in (1, 2, 3)
        for entry in (
            (EventType.CHECK_REQUESTED, NOW + hour * HOUR),
            (EventType.CHECK_MISSED, NOW + hour * HOUR + 5 * MINUTE),
        )
    ]
    assert [t for t, _ in by_party["water"]] == [
        EventType.CHECK_REQUESTED,
        EventType.CHECK_ANSWERED,
    ] * 3
    # The next tick waits in the queue, for the policy still in force.
    assert Due(DueKind.REQUEST_CHECKS, CHANNEL.id, tick_id(store.channel), NOW + 4 * HOUR) in (
        store.dues
    )


def test_the_clock_acts_as_nobody_and_leaves_the_notice_overdue() -> None:
    store = sending(urgent())

    logged = store.run_until(NOW + 30 * DAY)

    assert {(e.party, e.operator) for e in logged} == {(None, None)}
    assert store.notice is not None
    assert store.notice.status is Status.OVERDUE  # the chase is in the log, not in the state
    assert store.notice.overdue_at == URGENT_DEADLINE


# -- The policy in force at each step, and second copies of a due action ------------------------


def _slower(channel: Channel = CHANNEL) -> Channel:
    """The channel once urgent notices are reminded after an hour and escalated after 8."""
    chase = {**channel.policy.chase, Priority.URGENT: Chase(HOUR, HOUR, 4, 8 * HOUR)}
    return replace(channel, policy=replace(channel.policy, chase=chase))


def test_a_reminder_waits_for_the_time_the_policy_in_force_gives_it() -> None:
    notice = overdue(urgent())
    due = Due(DueKind.REMIND, CHANNEL.id, notice.id, URGENT_DEADLINE + 15 * MINUTE, n=1)

    early = fire(due, channel=_slower(), now=due.due_at, notice=notice, admins=ADMINS)
    on_time = fire(due, channel=_slower(), now=URGENT_DEADLINE + HOUR, notice=notice)

    assert early == Fired(next=[replace(due, due_at=URGENT_DEADLINE + HOUR)])
    (reminded,) = on_time.events
    assert isinstance(reminded, NoticeReminded)
    assert reminded.due_at == URGENT_DEADLINE + HOUR


def test_an_escalation_waits_for_the_time_the_policy_in_force_gives_it() -> None:
    notice = overdue(urgent())
    due = Due(DueKind.ESCALATE, CHANNEL.id, notice.id, URGENT_DEADLINE + HOUR)

    fired = fire(due, channel=_slower(), now=due.due_at, notice=notice, admins=ADMINS)

    assert fired == Fired(next=[replace(due, due_at=URGENT_DEADLINE + 8 * HOUR)])


def test_a_second_copy_of_a_reminder_or_an_escalation_logs_nothing() -> None:
    notice = overdue(urgent())
    remind = Due(DueKind.REMIND, CHANNEL.id, notice.id, URGENT_DEADLINE + 15 * MINUTE, n=1)
    escalate = Due(DueKind.ESCALATE, CHANNEL.id, notice.id, URGENT_DEADLINE + HOUR)
    later = URGENT_DEADLINE + 2 * HOUR

    for due in (remind, escalate):
        (event,) = fire(due, channel=CHANNEL, now=later, notice=notice, admins=ADMINS).events
        after = evolve(notice, event)

        assert fire(due, channel=CHANNEL, now=later, notice=after, admins=ADMINS) == Fired()


def test_a_second_copy_of_a_tick_asks_nothing_and_schedules_nothing() -> None:
    channel = with_checks()
    tick = Due(DueKind.REQUEST_CHECKS, channel.id, tick_id(channel), NOW + HOUR)

    first = fire(tick, channel=channel, now=NOW + HOUR)
    made = [evolve_check(None, e, channel=channel.id) for e in first.events]  # type: ignore[arg-type]
    second = fire(tick, channel=channel, now=NOW + HOUR, checks=made)

    assert len(first.events) == 2
    assert second == Fired()
