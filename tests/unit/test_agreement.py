"""Policy that both parties agree to: proposed by one party's admin, accepted by the other's.

Each test runs real commands through ``decide_policy`` and folds the events into the
channel with ``evolve_channel``, as the store does, so no test starts from a channel the
rules could not have produced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest

from client.protocol.vocabulary import Priority, Role
from server.domain.agreement import (
    MAX_LAPSE,
    MIN_LAPSE,
    AcceptPolicy,
    PolicyCommand,
    ProposePolicy,
    WithdrawPolicy,
    decide_policy,
    evolve_channel,
)
from server.domain.errors import (
    Forbidden,
    IdempotencyConflict,
    Invalid,
    ProposalClosed,
    ProposalIdConflict,
)
from server.domain.events import PolicyChanged, PolicyEvent, PolicyProposed, PolicyWithdrawn
from server.domain.model import Actor, Channel, Checks, Policy, Proposal
from server.domain.policy import policy_wire
from tests.unit.builders import (
    CHANNEL,
    NOW,
    ROADS_ADMIN,
    ROADS_OBSERVER,
    ROADS_OPERATOR,
    WATER_ADMIN,
    WATER_OBSERVER,
    WATER_OPERATOR,
)

PROPOSAL_ID = UUID("6f1c1d2e-8a55-4b7e-9d1c-1b2a3c4d5e01")
NEWER_ID = UUID("6f1c1d2e-8a55-4b7e-9d1c-1b2a3c4d5e02")

HOURLY_CHECKS = Policy(
    ack_deadlines={p: timedelta(hours=4) for p in Priority},
    checks=Checks(every=timedelta(hours=1), answer_within=timedelta(minutes=5)),
)
"""What the water utility would like: short deadlines and an hourly test of the line."""
SIGNED = Policy(require_signatures=True)

WEEK = timedelta(days=7)
LAPSES_AT = NOW + WEEK
WATER_DEPUTY = Actor(party="water", operator="wes", role=Role.ADMIN)


def run(
    channel: Channel, command: PolicyCommand, *, by: Actor, at: datetime = NOW
) -> tuple[list[PolicyEvent], Channel]:
    """Decide ``command`` and return its events and the channel after them."""
    events = decide_policy(command, channel=channel, actor=by, now=at)
    for event in events:
        channel = evolve_channel(channel, event)
    return events, channel


def proposed(
    policy: Policy = HOURLY_CHECKS,
    *,
    proposal_id: UUID = PROPOSAL_ID,
    by: Actor = WATER_ADMIN,
    channel: Channel = CHANNEL,
    at: datetime = NOW,
) -> Channel:
    """The channel with ``policy`` proposed by the water admin at ``NOW``, lapsing a week on."""
    _, after = run(channel, ProposePolicy(proposal_id, policy, WEEK), by=by, at=at)
    return after


def accepted() -> Channel:
    """The channel once the roads admin accepted the water admin's proposal, an hour on."""
    _, after = run(
        proposed(), AcceptPolicy(PROPOSAL_ID), by=ROADS_ADMIN, at=NOW + timedelta(hours=1)
    )
    return after


# -- Proposing --------------------------------------------------------------------------------


def test_an_admin_proposes_a_policy_that_waits_for_the_other_party() -> None:
    (event,), channel = run(
        CHANNEL, ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK), by=WATER_ADMIN
    )

    assert event == PolicyProposed(PROPOSAL_ID, NOW, "water", "walt", HOURLY_CHECKS, LAPSES_AT)
    assert channel.policy == Policy()  # not in force until accepted
    assert channel.policy_id is None
    assert channel.proposal == Proposal(PROPOSAL_ID, HOURLY_CHECKS, "water", "walt", NOW, LAPSES_AT)


def test_a_proposal_lapses_a_week_on_unless_told_otherwise() -> None:
    (event,) = decide_policy(
        ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS), channel=CHANNEL, actor=WATER_ADMIN, now=NOW
    )

    assert isinstance(event, PolicyProposed)
    assert event.lapses_at == NOW + timedelta(days=7)


def test_the_proposed_event_carries_the_policy_and_when_it_lapses() -> None:
    (event,) = decide_policy(
        ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK),
        channel=CHANNEL,
        actor=WATER_ADMIN,
        now=NOW + timedelta(microseconds=1_500),
    )

    assert event.at == NOW + timedelta(milliseconds=1)  # the server's clock, to the millisecond
    assert event.data() == {
        "proposal": str(PROPOSAL_ID),
        "policy": policy_wire(HOURLY_CHECKS),
        "lapses_at": "2026-11-28T09:30:00.001Z",
    }


@pytest.mark.parametrize(
    "lapses_in", [MIN_LAPSE - timedelta(seconds=1), MAX_LAPSE + timedelta(seconds=1)]
)
def test_a_proposal_lapsing_sooner_than_a_minute_or_later_than_30_days_is_invalid(
    lapses_in: timedelta,
) -> None:
    with pytest.raises(Invalid) as refused:
        ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, lapses_in)

    assert refused.value.field == "lapses_in_seconds"


@pytest.mark.parametrize("lapses_in", [MIN_LAPSE, MAX_LAPSE])
def test_a_proposal_may_lapse_after_a_minute_or_after_30_days(lapses_in: timedelta) -> None:
    (event,) = decide_policy(
        ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, lapses_in),
        channel=CHANNEL,
        actor=WATER_ADMIN,
        now=NOW,
    )

    assert isinstance(event, PolicyProposed)
    assert event.lapses_at == NOW + lapses_in


def test_a_retried_proposal_logs_nothing() -> None:
    channel = proposed()

    events, after = run(
        channel,
        ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK),
        by=WATER_DEPUTY,  # another admin of the same party: the same client's retry
        at=NOW + timedelta(minutes=1),
    )

    assert events == []
    assert after == channel


def test_a_lapsed_proposal_proposed_again_under_its_id_is_a_conflict_not_a_retry() -> None:
    with pytest.raises(ProposalIdConflict) as refused:
        decide_policy(
            ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK),
            channel=proposed(),
            actor=WATER_ADMIN,
            now=LAPSES_AT,
        )

    assert "lapsed" in refused.value.message
    assert "new id" in refused.value.message


def test_a_proposal_id_reused_for_another_policy_is_an_idempotency_conflict() -> None:
    with pytest.raises(IdempotencyConflict) as refused:
        decide_policy(
            ProposePolicy(PROPOSAL_ID, SIGNED, WEEK),
            channel=proposed(),
            actor=WATER_ADMIN,
            now=NOW + timedelta(minutes=1),
        )

    assert "another policy" in refused.value.message


def test_a_proposal_id_reused_by_the_other_party_is_an_idempotency_conflict() -> None:
    with pytest.raises(IdempotencyConflict):
        decide_policy(
            ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK),
            channel=proposed(),
            actor=ROADS_ADMIN,
            now=NOW + timedelta(minutes=1),
        )


def test_the_id_of_the_proposal_in_force_cannot_propose_again() -> None:
    with pytest.raises(IdempotencyConflict):
        decide_policy(
            ProposePolicy(PROPOSAL_ID, SIGNED, WEEK),
            channel=accepted(),
            actor=ROADS_ADMIN,
            now=NOW + timedelta(hours=2),
        )


def test_escalation_to_a_party_not_of_the_channel_is_invalid() -> None:
    stranger = Policy(escalate_to={"roads": ("rick",), "parks": ("pat",)})

    with pytest.raises(Invalid, match="parks") as refused:
        decide_policy(
            ProposePolicy(PROPOSAL_ID, stranger, WEEK), channel=CHANNEL, actor=WATER_ADMIN, now=NOW
        )

    assert refused.value.field == "policy"


def test_escalation_to_operators_on_duty_of_either_party_may_be_proposed() -> None:
    on_duty = Policy(escalate_to={"roads": ("ben",), "water": ("ada", "amir")})

    (event,) = decide_policy(
        ProposePolicy(PROPOSAL_ID, on_duty, WEEK), channel=CHANNEL, actor=WATER_ADMIN, now=NOW
    )

    assert isinstance(event, PolicyProposed)
    assert event.policy.escalate_to == {"roads": ("ben",), "water": ("ada", "amir")}


OPERATORS = {"water": {"ada", "amir", "wes"}, "roads": {"ben", "rick"}}
"""Each party's operators, as the service reads them for a proposal."""


@pytest.mark.parametrize(
    "on_duty",
    [{"roads": ("amir",)}, {"roads": ("ben",), "water": ("ada", "nobody")}],
    ids=["an operator of the other party", "nobody at all"],
)
def test_escalation_to_anyone_but_the_partys_own_operators_is_invalid(
    on_duty: dict[str, tuple[str, ...]],
) -> None:
    command = ProposePolicy(PROPOSAL_ID, Policy(escalate_to=on_duty), WEEK)

    with pytest.raises(Invalid, match="not operators of") as refused:
        decide_policy(command, channel=CHANNEL, actor=WATER_ADMIN, now=NOW, operators=OPERATORS)

    assert refused.value.field == "policy"


def test_escalation_to_the_partys_own_operators_is_checked_and_may_be_proposed() -> None:
    on_duty = Policy(escalate_to={"roads": ("ben",), "water": ("ada", "amir")})

    (event,) = decide_policy(
        ProposePolicy(PROPOSAL_ID, on_duty, WEEK),
        channel=CHANNEL,
        actor=WATER_ADMIN,
        now=NOW,
        operators=OPERATORS,
    )

    assert isinstance(event, PolicyProposed)


def test_a_non_admin_naming_strangers_on_duty_is_refused_as_not_an_admin() -> None:
    command = ProposePolicy(PROPOSAL_ID, Policy(escalate_to={"roads": ("amir",)}), WEEK)

    with pytest.raises(Forbidden):
        decide_policy(command, channel=CHANNEL, actor=WATER_OPERATOR, now=NOW, operators=OPERATORS)


@pytest.mark.parametrize("by", [WATER_ADMIN, ROADS_ADMIN], ids=["same-party", "other-party"])
def test_a_new_proposal_supersedes_the_one_waiting(by: Actor) -> None:
    (event,), channel = run(
        proposed(), ProposePolicy(NEWER_ID, SIGNED, WEEK), by=by, at=NOW + timedelta(hours=1)
    )

    assert isinstance(event, PolicyProposed)
    assert event.supersedes == PROPOSAL_ID
    assert event.data()["supersedes"] == str(PROPOSAL_ID)
    assert channel.proposal is not None
    assert (channel.proposal.id, channel.proposal.party) == (NEWER_ID, by.party)


def test_a_new_proposal_supersedes_nothing_once_the_waiting_one_lapsed() -> None:
    (event,) = decide_policy(
        ProposePolicy(NEWER_ID, SIGNED, WEEK), channel=proposed(), actor=ROADS_ADMIN, now=LAPSES_AT
    )

    assert isinstance(event, PolicyProposed)
    assert event.supersedes is None
    assert "supersedes" not in event.data()


# -- Who may ------------------------------------------------------------------------------------

COMMANDS: dict[str, PolicyCommand] = {
    "propose": ProposePolicy(NEWER_ID, SIGNED, WEEK),
    "accept": AcceptPolicy(PROPOSAL_ID),
    "withdraw": WithdrawPolicy(PROPOSAL_ID),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(
    "actor",
    [WATER_OPERATOR, WATER_OBSERVER, ROADS_OPERATOR, ROADS_OBSERVER],
    ids=["water-operator", "water-observer", "roads-operator", "roads-observer"],
)
def test_only_an_admin_may_propose_accept_or_withdraw(command: PolicyCommand, actor: Actor) -> None:
    with pytest.raises(Forbidden, match="only an admin") as refused:
        decide_policy(command, channel=proposed(), actor=actor, now=NOW + timedelta(hours=1))

    assert refused.value.code == "forbidden"


@pytest.mark.parametrize("by", [WATER_ADMIN, WATER_DEPUTY], ids=["proposer", "colleague"])
def test_a_party_cannot_accept_its_own_proposal(by: Actor) -> None:
    with pytest.raises(Forbidden, match="other party"):
        decide_policy(
            AcceptPolicy(PROPOSAL_ID), channel=proposed(), actor=by, now=NOW + timedelta(hours=1)
        )


def test_the_other_party_cannot_withdraw_a_proposal() -> None:
    with pytest.raises(Forbidden, match="proposing party"):
        decide_policy(
            WithdrawPolicy(PROPOSAL_ID),
            channel=proposed(),
            actor=ROADS_ADMIN,
            now=NOW + timedelta(hours=1),
        )


# -- Accepting ----------------------------------------------------------------------------------


def test_accepting_puts_the_proposed_policy_in_force() -> None:
    at = NOW + timedelta(hours=1)

    (event,), channel = run(proposed(), AcceptPolicy(PROPOSAL_ID), by=ROADS_ADMIN, at=at)

    assert event == PolicyChanged(
        PROPOSAL_ID, at, "roads", "rick", HOURLY_CHECKS, ("water", "walt")
    )
    assert event.data() == {
        "proposal": str(PROPOSAL_ID),
        "policy": policy_wire(HOURLY_CHECKS),
        "proposed_by": {"party": "water", "operator": "walt"},
    }
    assert channel.policy == HOURLY_CHECKS
    assert channel.policy_id == PROPOSAL_ID
    assert channel.proposal is None


def test_a_proposal_may_be_accepted_until_the_last_millisecond_before_it_lapses() -> None:
    (event,) = decide_policy(
        AcceptPolicy(PROPOSAL_ID),
        channel=proposed(),
        actor=ROADS_ADMIN,
        now=LAPSES_AT - timedelta(milliseconds=1),
    )

    assert isinstance(event, PolicyChanged)


def test_accepting_twice_logs_nothing_the_second_time() -> None:
    channel = accepted()

    events, after = run(
        channel, AcceptPolicy(PROPOSAL_ID), by=ROADS_ADMIN, at=NOW + timedelta(hours=2)
    )

    assert events == []
    assert after == channel


@pytest.mark.parametrize("late", [timedelta(0), timedelta(days=1)], ids=["at-lapse", "a-day-late"])
def test_accepting_a_lapsed_proposal_is_refused(late: timedelta) -> None:
    with pytest.raises(ProposalClosed, match="lapsed") as refused:
        decide_policy(
            AcceptPolicy(PROPOSAL_ID), channel=proposed(), actor=ROADS_ADMIN, now=LAPSES_AT + late
        )

    assert refused.value.code == "proposal-closed"


def test_accepting_a_withdrawn_proposal_is_refused() -> None:
    _, withdrawn = run(proposed(), WithdrawPolicy(PROPOSAL_ID), by=WATER_ADMIN)

    with pytest.raises(ProposalClosed):
        decide_policy(AcceptPolicy(PROPOSAL_ID), channel=withdrawn, actor=ROADS_ADMIN, now=NOW)


def test_accepting_a_superseded_proposal_is_refused() -> None:
    superseded = proposed(SIGNED, proposal_id=NEWER_ID, channel=proposed())

    with pytest.raises(ProposalClosed):
        decide_policy(AcceptPolicy(PROPOSAL_ID), channel=superseded, actor=ROADS_ADMIN, now=NOW)


def test_accepting_a_proposal_never_made_is_refused() -> None:
    # The channel knows only the proposal waiting; telling "never made" (404) from
    # "no longer waiting" (409) needs the log, which the service reads.
    with pytest.raises(ProposalClosed):
        decide_policy(AcceptPolicy(NEWER_ID), channel=proposed(), actor=ROADS_ADMIN, now=NOW)


def test_accepting_an_older_proposal_after_a_newer_one_took_effect_is_refused() -> None:
    newer = proposed(SIGNED, proposal_id=NEWER_ID, by=ROADS_ADMIN, channel=accepted())
    _, channel = run(newer, AcceptPolicy(NEWER_ID), by=WATER_ADMIN)

    with pytest.raises(ProposalClosed):
        decide_policy(AcceptPolicy(PROPOSAL_ID), channel=channel, actor=ROADS_ADMIN, now=NOW)


# -- Withdrawing --------------------------------------------------------------------------------


@pytest.mark.parametrize("by", [WATER_ADMIN, WATER_DEPUTY], ids=["proposer", "colleague"])
def test_the_proposing_party_withdraws_and_the_policy_in_force_stays(by: Actor) -> None:
    (event,), channel = run(proposed(), WithdrawPolicy(PROPOSAL_ID), by=by)

    assert event == PolicyWithdrawn(PROPOSAL_ID, NOW, "water", by.operator)
    assert event.data() == {"proposal": str(PROPOSAL_ID)}
    assert channel == CHANNEL  # nothing waiting, the policy it began with


def test_withdrawing_twice_is_refused_the_second_time() -> None:
    _, withdrawn = run(proposed(), WithdrawPolicy(PROPOSAL_ID), by=WATER_ADMIN)

    with pytest.raises(ProposalClosed):
        decide_policy(WithdrawPolicy(PROPOSAL_ID), channel=withdrawn, actor=WATER_ADMIN, now=NOW)


def test_withdrawing_a_lapsed_proposal_is_refused() -> None:
    with pytest.raises(ProposalClosed, match="lapsed"):
        decide_policy(
            WithdrawPolicy(PROPOSAL_ID), channel=proposed(), actor=WATER_ADMIN, now=LAPSES_AT
        )


def test_withdrawing_an_accepted_proposal_is_refused() -> None:
    with pytest.raises(ProposalClosed):
        decide_policy(
            WithdrawPolicy(PROPOSAL_ID),
            channel=accepted(),
            actor=WATER_ADMIN,
            now=NOW + timedelta(hours=2),
        )


def test_the_policy_in_force_is_the_one_the_log_says() -> None:
    # Proposed, superseded, withdrawn, proposed again and accepted: replaying the events
    # gives the last accepted policy, whoever proposed it.
    events: list[PolicyEvent] = []
    channel = CHANNEL
    steps: list[tuple[PolicyCommand, Actor]] = [
        (ProposePolicy(PROPOSAL_ID, HOURLY_CHECKS, WEEK), WATER_ADMIN),
        (ProposePolicy(NEWER_ID, SIGNED, WEEK), ROADS_ADMIN),
        (WithdrawPolicy(NEWER_ID), ROADS_ADMIN),
        (ProposePolicy(UUID(int=3), SIGNED, WEEK), ROADS_ADMIN),
        (AcceptPolicy(UUID(int=3)), WATER_ADMIN),
    ]
    for minutes, (command, by) in enumerate(steps):
        new, channel = run(channel, command, by=by, at=NOW + timedelta(minutes=minutes))
        events.extend(new)

    assert [type(e) for e in events] == [
        PolicyProposed,
        PolicyProposed,
        PolicyWithdrawn,
        PolicyProposed,
        PolicyChanged,
    ]
    assert channel == Channel(CHANNEL.id, CHANNEL.parties, SIGNED, UUID(int=3))
