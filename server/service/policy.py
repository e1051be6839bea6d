"""A channel's policy: the one in force, and the changes both parties' admins agree to.

An admin of one party proposes (``channel.policy_proposed``); an admin of the other accepts
(``channel.policy_changed``: in force from that event) or the proposing party withdraws
(``channel.policy_withdrawn``); or the proposal lapses, which logs nothing. The rules are
in ``server/domain/agreement.py``; here each command runs in the single writer like any
other, and the channel's row keeps the policy in force and the proposal waiting, so that
the next command reads them with the channel's lock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial, reduce
from uuid import UUID

from client.protocol import schemas
from server.domain import clock
from server.domain.agreement import (
    AcceptPolicy,
    PolicyCommand,
    ProposePolicy,
    WithdrawPolicy,
    decide_policy,
    evolve_channel,
)
from server.domain.errors import NotFound
from server.domain.events import PolicyChanged
from server.domain.model import Actor, Channel, Policy, Proposal
from server.domain.policy import policy_wire
from server.fanout import Fanout
from server.store.db import Database
from server.store.ledger import Batch
from server.store.watch import Watch

__all__ = [
    "ProposalOutcome",
    "accept",
    "policy_out",
    "proposal_out",
    "propose",
    "show",
    "state_of",
    "withdraw",
]


@dataclass(frozen=True, slots=True)
class ProposalOutcome:
    """What a proposal left behind once committed."""

    proposal: schemas.Proposal
    events: list[schemas.Event]
    """The events appended; empty when it repeated a proposal already made."""

    @property
    def changed(self) -> bool:
        """Whether it wrote anything (``False`` for a retry of the same proposal)."""
        return bool(self.events)


@dataclass(frozen=True, slots=True)
class _Written:
    channel: Channel
    events: list[schemas.Event]
    root: bytes | None
    since_seq: int | None
    """The sequence number of the ``channel.policy_changed`` appended, if one was."""

    @property
    def roots(self) -> Mapping[str, bytes]:
        return {} if self.root is None else {self.channel.id: self.root}


def policy_out(policy: Policy) -> schemas.PolicyOut:
    """A policy as the API serves it."""
    return schemas.PolicyOut.model_validate(policy_wire(policy))


def proposal_out(proposal: Proposal) -> schemas.Proposal:
    """A proposal as the API serves it."""
    return schemas.Proposal(
        id=proposal.id,
        policy=policy_out(proposal.policy),
        party=proposal.party,
        operator=proposal.operator,
        proposed_at=proposal.proposed_at,
        lapses_at=proposal.lapses_at,
    )


def state_of(channel: Channel, *, since_seq: int | None, now: datetime) -> schemas.PolicyState:
    """The policy state of a channel at ``now``: a lapsed proposal waits no more."""
    waiting = channel.proposal
    return schemas.PolicyState(
        in_force=policy_out(channel.policy),
        policy_id=channel.policy_id,
        since_seq=since_seq if channel.policy_id is not None else None,
        pending=proposal_out(waiting) if waiting is not None and waiting.open_at(now) else None,
    )


async def show(db: Database, actor: Actor, channel_id: str) -> schemas.PolicyState:
    """The policy in force on one of the actor's party's channels, and the proposal waiting.

    Raises:
        NotFound: no such channel, or not one of the actor's party's.
    """
    async with db.session() as session:
        watch = Watch(session)
        channel = await watch.channel(channel_id, party=actor.party)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        since = await watch.policy_since(channel_id) if channel.policy_id is not None else None
    return state_of(channel, since_seq=since, now=db.clock.now())


async def propose(
    db: Database,
    policy: Policy,
    lapses_in: timedelta,
    *,
    proposal_id: UUID,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> ProposalOutcome:
    """Propose ``policy`` to the other party: committed, then published.

    Args:
        db: the database.
        policy: the policy proposed.
        lapses_in: how long the other party has to accept it.
        proposal_id: chosen by the client: proposing it again is a retry.
        channel_id: the channel.
        actor: the admin proposing.
        fanout: where to publish the event once committed.

    Returns:
        The proposal waiting, and the event appended (none for a retry).

    Raises:
        Refusal: not the actor's channel, not an admin, a reused id, a policy naming
            strangers: parties not of the channel, or on duty for a party someone who is
            not its operator (``server/domain/agreement.py``).
    """
    command = ProposePolicy(proposal_id, policy, lapses_in)
    # Read before the writer's batch, which is safe. Proposal ids are used once: an id
    # committed since by another request is the proposal waiting, which the rules see.
    # Operators never change party: one added since is refused, and may be proposed again.
    async with db.session() as session:
        watch = Watch(session)
        seen = await watch.proposal_made(channel_id, proposal_id)
        operators = await watch.operators(channel_id)
    written = await _run(
        db,
        command,
        channel_id=channel_id,
        actor=actor,
        fanout=fanout,
        seen=seen,
        operators=operators,
    )
    proposal = written.channel.proposal
    assert proposal is not None, "a proposal waits once made (or retried)"
    return ProposalOutcome(proposal=proposal_out(proposal), events=written.events)


async def accept(
    db: Database,
    proposal_id: UUID,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> schemas.PolicyState:
    """Accept the other party's proposal: its policy is in force from the event logged.

    Returns:
        The channel's policy state once committed.

    Raises:
        Refusal: not the actor's channel, not an admin, the actor's own party's proposal,
            or a proposal no longer waiting (``ProposalClosed``).
    """
    command = AcceptPolicy(proposal_id)
    written = await _run(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    return await _state(db, written)


async def withdraw(
    db: Database,
    proposal_id: UUID,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None = None,
) -> schemas.PolicyState:
    """Withdraw the actor's party's proposal before it is accepted.

    Returns:
        The channel's policy state once committed.

    Raises:
        Refusal: not the actor's channel, not an admin, the other party's proposal, or a
            proposal no longer waiting (``ProposalClosed``).
    """
    command = WithdrawPolicy(proposal_id)
    written = await _run(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    return await _state(db, written)


async def _run(
    db: Database,
    command: PolicyCommand,
    *,
    channel_id: str,
    actor: Actor,
    fanout: Fanout | None,
    seen: bool = False,
    operators: Mapping[str, Collection[str]] | None = None,
) -> _Written:
    decide = partial(
        _decide_in,
        command=command,
        channel_id=channel_id,
        actor=actor,
        seen=seen,
        operators=operators,
    )
    return await db.writer.run(decide, channel_id=channel_id, publisher=fanout)


async def _state(db: Database, written: _Written) -> schemas.PolicyState:
    since = written.since_seq
    if since is None and written.channel.policy_id is not None:
        async with db.session() as session:  # a policy accepted by an earlier command
            since = await Watch(session).policy_since(written.channel.id)
    return state_of(written.channel, since_seq=since, now=db.clock.now())


def _decide_in(
    batch: Batch,
    *,
    command: PolicyCommand,
    channel_id: str,
    actor: Actor,
    seen: bool,
    operators: Mapping[str, Collection[str]] | None,
) -> _Written:
    channel = batch.channel(channel_id, party=actor.party)
    events = decide_policy(
        command, channel=channel, actor=actor, now=batch.now, seen=seen, operators=operators
    )
    if not events:
        return _Written(channel, [], None, None)
    after = reduce(evolve_channel, events, channel)
    appended, root = batch.append(channel.id, events)
    batch.settle(after)
    batch.clockwork.schedule(clock.scheduled(events, after))
    since = next(
        (w.seq for w, e in zip(appended, events, strict=True) if isinstance(e, PolicyChanged)),
        None,
    )
    return _Written(after, appended, root, since)
