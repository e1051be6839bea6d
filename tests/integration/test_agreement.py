"""Policy both parties agree to, through the store: proposed, accepted, withdrawn or lapsed.

The rules are unit-tested on their own (``tests/unit/test_agreement.py``); these tests
check what the write path keeps: the proposal waiting and the policy in force on the
channel's row, read back by the next command, by another process and by ``policy.show``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from client.protocol.vocabulary import Priority
from server.domain.clock import tick_id
from server.domain.errors import Forbidden, Invalid, ProposalClosed, ProposalIdConflict
from server.domain.model import Actor, Channel, Checks, Policy
from server.service import policy
from server.store.db import Database
from tests.integration.store_clock import (
    CARLA,
    CHANNEL,
    RAJ,
    START,
    WANDA,
    clocked_database,
    dues,
    log,
    moved,
    send,
    types,
)

WEEK = timedelta(days=7)
QUICKER = Policy(
    ack_deadlines={
        Priority.ROUTINE: timedelta(days=2),
        Priority.IMPORTANT: timedelta(hours=8),
        Priority.URGENT: timedelta(minutes=30),
    },
    escalate_to={"roads": ("dev",)},
)
"""A policy that wants urgent notices acknowledged in half an hour."""


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The demo on a hand-moved clock, showing ``START``."""
    async with clocked_database(database_url) as database:
        yield database


async def propose(
    db: Database, proposed: Policy = QUICKER, *, by: Actor = WANDA, lapses_in: timedelta = WEEK
) -> policy.ProposalOutcome:
    """Propose ``proposed`` under a new id."""
    return await policy.propose(
        db, proposed, lapses_in, proposal_id=uuid.uuid4(), channel_id=CHANNEL, actor=by
    )


async def test_a_proposal_waits_on_the_channel_until_the_other_party_accepts_it(
    db: Database, database_url: str
) -> None:
    proposed = await propose(db)

    waiting = await policy.show(db, CARLA, CHANNEL)
    async with clocked_database(database_url, clock=moved(db)) as other:
        read_back = await policy.show(other, RAJ, CHANNEL)
        accepted = await policy.accept(other, proposed.proposal.id, channel_id=CHANNEL, actor=RAJ)

    assert proposed.changed
    assert waiting == read_back
    assert waiting.pending == proposed.proposal
    assert waiting.pending is not None
    assert (waiting.pending.party, waiting.pending.operator) == ("water", "wanda")
    assert waiting.pending.lapses_at == START + WEEK
    assert (waiting.policy_id, waiting.since_seq) == (None, None)
    events = await log(db)
    assert types(events) == ["channel.policy_proposed", "channel.policy_changed"]
    assert accepted.in_force == proposed.proposal.policy
    assert (accepted.policy_id, accepted.since_seq) == (proposed.proposal.id, events[1].seq)
    assert accepted.pending is None
    assert await policy.show(db, CARLA, CHANNEL) == accepted


async def test_the_next_command_reads_the_policy_accepted_even_by_another_process(
    db: Database, database_url: str
) -> None:
    before = await send(db)  # the writer now remembers the channel and its policy
    proposed = await propose(db)
    async with clocked_database(database_url, clock=moved(db)) as other:
        await policy.accept(other, proposed.proposal.id, channel_id=CHANNEL, actor=RAJ)

    after = await send(db)

    assert before.notice.ack_due_at == START + timedelta(hours=1)
    assert after.notice.ack_due_at == START + timedelta(minutes=30)


async def test_only_an_admin_of_the_other_party_may_accept(db: Database) -> None:
    proposed = await propose(db)

    with pytest.raises(Forbidden):
        await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=WANDA)
    with pytest.raises(Forbidden):
        await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=CARLA)
    with pytest.raises(Forbidden):
        await propose(db, by=CARLA)
    assert types(await log(db)) == ["channel.policy_proposed"]


@pytest.mark.parametrize(
    "on_duty",
    [{"roads": ("wanda",)}, {"roads": ("dev", "nobody")}],
    ids=["an admin of the other party", "nobody at all"],
)
async def test_a_proposal_may_put_on_duty_for_a_party_only_its_own_operators(
    db: Database, on_duty: dict[str, tuple[str, ...]]
) -> None:
    with pytest.raises(Invalid) as refused:
        await propose(db, Policy(escalate_to=on_duty))

    assert refused.value.field == "policy"
    assert "not operators of roads" in str(refused.value)
    assert await log(db) == []
    both = await propose(db, Policy(escalate_to={"roads": ("dev", "raj"), "water": ("ana",)}))
    assert both.changed


async def test_a_lapsed_proposal_waits_no_more_and_logs_nothing(db: Database) -> None:
    proposed = await propose(db, lapses_in=timedelta(hours=1))
    moved(db).advance(timedelta(hours=1))

    state = await policy.show(db, RAJ, CHANNEL)

    assert state.pending is None
    with pytest.raises(ProposalClosed):
        await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=RAJ)
    assert types(await log(db)) == ["channel.policy_proposed"]


async def test_a_withdrawn_proposal_cannot_be_accepted(db: Database) -> None:
    proposed = await propose(db)

    state = await policy.withdraw(db, proposed.proposal.id, channel_id=CHANNEL, actor=WANDA)

    assert state.pending is None
    assert state.in_force == policy.policy_out(Policy())
    with pytest.raises(ProposalClosed):
        await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=RAJ)
    assert types(await log(db)) == ["channel.policy_proposed", "channel.policy_withdrawn"]


async def test_a_proposal_id_is_used_once_even_after_its_proposal_was_withdrawn(
    db: Database,
) -> None:
    proposed = await propose(db)
    await policy.withdraw(db, proposed.proposal.id, channel_id=CHANNEL, actor=WANDA)

    with pytest.raises(ProposalIdConflict) as refused:
        await policy.propose(
            db, QUICKER, WEEK, proposal_id=proposed.proposal.id, channel_id=CHANNEL, actor=WANDA
        )

    assert refused.value.code == "proposal-id-conflict"
    assert types(await log(db)) == ["channel.policy_proposed", "channel.policy_withdrawn"]


async def test_a_newer_proposal_replaces_the_one_waiting(db: Database) -> None:
    first = await propose(db)
    second = await propose(db, Policy(require_signatures=True), by=RAJ)

    with pytest.raises(ProposalClosed):
        await policy.accept(db, first.proposal.id, channel_id=CHANNEL, actor=RAJ)
    state = await policy.accept(db, second.proposal.id, channel_id=CHANNEL, actor=WANDA)

    assert second.events[0].data["supersedes"] == str(first.proposal.id)
    assert state.in_force.require_signatures


async def test_a_retried_proposal_or_acceptance_changes_nothing(db: Database) -> None:
    proposal_id = uuid.uuid4()
    first = await policy.propose(
        db, QUICKER, WEEK, proposal_id=proposal_id, channel_id=CHANNEL, actor=WANDA
    )
    again = await policy.propose(
        db, QUICKER, WEEK, proposal_id=proposal_id, channel_id=CHANNEL, actor=WANDA
    )
    accepted = await policy.accept(db, proposal_id, channel_id=CHANNEL, actor=RAJ)
    accepted_again = await policy.accept(db, proposal_id, channel_id=CHANNEL, actor=RAJ)

    assert (first.changed, again.changed) == (True, False)
    assert again.proposal == first.proposal
    assert accepted_again == accepted
    assert types(await log(db)) == ["channel.policy_proposed", "channel.policy_changed"]


async def test_a_policy_with_checks_asks_the_first_one_a_period_after_it_is_accepted(
    db: Database,
) -> None:
    hourly = Policy(checks=Checks(every=timedelta(hours=1), answer_within=timedelta(minutes=5)))
    proposed = await propose(db, hourly)
    moved(db).advance(timedelta(minutes=10))

    await policy.accept(db, proposed.proposal.id, channel_id=CHANNEL, actor=RAJ)

    in_force = Channel(CHANNEL, ("water", "roads"), hourly, policy_id=proposed.proposal.id)
    first = START + timedelta(minutes=10, hours=1)
    assert await dues(db) == [("request_checks", tick_id(in_force), 0, first)]
