"""Policy that both parties agree to: proposed by one party's admin, accepted by the other's.

A proposal waits until an admin of the *other* party accepts it (``channel.policy_changed``:
the policy is in force from that event on), the proposing party withdraws it
(``channel.policy_withdrawn``), a newer proposal from either party replaces it, or it
lapses. A lapse needs no event: ``lapses_at`` is in the ``channel.policy_proposed`` event,
so the log alone says that a proposal not accepted by then never took effect.

Like the notice rules, these functions are pure: a channel and a command in, events (or a
refusal) out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from client.protocol.times import format_time, to_millisecond
from client.protocol.vocabulary import Role
from server.domain.errors import Forbidden, Invalid, ProposalClosed, ProposalIdConflict
from server.domain.events import PolicyChanged, PolicyEvent, PolicyProposed, PolicyWithdrawn
from server.domain.model import Actor, Channel, Policy, Proposal

__all__ = [
    "MAX_LAPSE",
    "MIN_LAPSE",
    "AcceptPolicy",
    "PolicyCommand",
    "ProposePolicy",
    "WithdrawPolicy",
    "decide_policy",
    "evolve_channel",
]

MIN_LAPSE = timedelta(minutes=1)
MAX_LAPSE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ProposePolicy:
    """Propose ``policy``, to lapse ``lapses_in`` from now unless accepted."""

    proposal_id: UUID
    policy: Policy
    lapses_in: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if not MIN_LAPSE <= self.lapses_in <= MAX_LAPSE:
            raise Invalid("a proposal lapses after 1 minute to 30 days", field="lapses_in_seconds")


@dataclass(frozen=True, slots=True)
class AcceptPolicy:
    """Accept the other party's proposal: its policy is in force from now."""

    proposal_id: UUID


@dataclass(frozen=True, slots=True)
class WithdrawPolicy:
    """Withdraw one's own party's proposal before it is accepted."""

    proposal_id: UUID


PolicyCommand = ProposePolicy | AcceptPolicy | WithdrawPolicy
"""Any command about a channel's policy."""


def decide_policy(
    command: PolicyCommand,
    *,
    channel: Channel,
    actor: Actor,
    now: datetime,
    seen: bool = False,
    operators: Mapping[str, Collection[str]] | None = None,
) -> list[PolicyEvent]:
    """Return the events a policy command causes, or raise why it is refused.

    Args:
        command: what is asked.
        channel: the channel, with its policy in force and the proposal waiting, if any;
            the caller already checked that the actor's party is one of its two.
        actor: the admin asking.
        now: the server's clock.
        seen: for a ``ProposePolicy``, whether its id is in the channel's log already (a
            proposal made before, withdrawn or replaced since): proposal ids, like notice
            ids, are used once.
        operators: for a ``ProposePolicy``, the operators of each of the channel's parties:
            its ``escalate_to`` may name, for a party, only that party's operators.
            ``None`` leaves the names unchecked (a caller that knows no operators).

    Returns:
        The new events; empty when the command repeats one already applied.

    Raises:
        Forbidden: the actor is not an admin, or accepts its own party's proposal, or
            withdraws the other party's.
        ProposalClosed: the proposal named is not waiting any more.
        ProposalIdConflict: a proposal id reused for another policy, or once it stopped
            waiting (withdrawn, replaced, accepted or lapsed).
        Invalid: the policy names parties or operators it cannot.
    """
    now = to_millisecond(now)
    if actor.role is not Role.ADMIN:
        raise Forbidden(f"only an admin may change a channel's policy, not an {actor.role}")
    match command:
        case ProposePolicy():
            return _propose(command, channel, actor, now, seen=seen, operators=operators)
        case AcceptPolicy():
            if command.proposal_id == channel.policy_id:
                return []  # accepted already: a retry
            proposal = _waiting(channel, command.proposal_id, now)
            if proposal.party == actor.party:
                raise Forbidden(
                    "a party cannot accept its own proposal: an admin of the other party must"
                )
            return [
                PolicyChanged(
                    proposal.id,
                    now,
                    actor.party,
                    actor.operator,
                    proposal.policy,
                    (proposal.party, proposal.operator),
                )
            ]
        case WithdrawPolicy():
            proposal = _waiting(channel, command.proposal_id, now)
            if proposal.party != actor.party:
                raise Forbidden("only the proposing party can withdraw a proposal")
            return [PolicyWithdrawn(proposal.id, now, actor.party, actor.operator)]
    raise TypeError(f"unknown command {command!r}")  # pragma: no cover - the union is closed


def _propose(
    command: ProposePolicy,
    channel: Channel,
    actor: Actor,
    now: datetime,
    *,
    seen: bool,
    operators: Mapping[str, Collection[str]] | None,
) -> list[PolicyEvent]:
    waiting = channel.proposal
    if waiting is not None and waiting.id == command.proposal_id:
        if waiting.policy != command.policy or waiting.party != actor.party:
            raise ProposalIdConflict(
                f"proposal id {command.proposal_id} was already used for another policy"
            )
        if not waiting.open_at(now):  # not a retry to answer with a proposal nobody can accept
            raise ProposalIdConflict(
                f"proposal {command.proposal_id} lapsed at {format_time(waiting.lapses_at)}: "
                "propose under a new id"
            )
        return []  # a retry
    if command.proposal_id == channel.policy_id:
        raise ProposalIdConflict(f"proposal id {command.proposal_id} was accepted already")
    if seen:
        raise ProposalIdConflict(
            f"proposal id {command.proposal_id} was used before, and waits no more: "
            "propose under a new id"
        )
    strangers = set(command.policy.escalate_to) - set(channel.parties)
    if strangers:
        raise Invalid(
            f"escalate_to names {sorted(strangers)}, not parties of channel {channel.id}",
            field="policy",
        )
    if operators is not None:
        _check_on_duty(command.policy, operators)
    supersedes = waiting.id if waiting is not None and waiting.open_at(now) else None
    lapses_at = now + command.lapses_in
    return [
        PolicyProposed(
            command.proposal_id,
            now,
            actor.party,
            actor.operator,
            command.policy,
            lapses_at,
            supersedes=supersedes,
        )
    ]


def _check_on_duty(policy: Policy, operators: Mapping[str, Collection[str]]) -> None:
    """Refuse an ``escalate_to`` that names, for a party, anyone but that party's operators."""
    for party, names in sorted(policy.escalate_to.items()):
        unknown = [name for name in names if name not in operators.get(party, ())]
        if unknown:
            raise Invalid(
                f"escalate_to names {unknown} for {party}, who are not operators of {party}",
                field="policy",
            )


def _waiting(channel: Channel, proposal_id: UUID, now: datetime) -> Proposal:
    proposal = channel.proposal
    if proposal is None or proposal.id != proposal_id:
        raise ProposalClosed(
            f"proposal {proposal_id} is not waiting for an answer on channel {channel.id}: "
            "it was withdrawn, replaced by a newer one, or never made"
        )
    if not proposal.open_at(now):
        raise ProposalClosed(f"proposal {proposal_id} lapsed at {format_time(proposal.lapses_at)}")
    return proposal


def evolve_channel(channel: Channel, event: PolicyEvent) -> Channel:
    """The channel after a policy event."""
    match event:
        case PolicyProposed():
            proposal = Proposal(
                event.proposal_id,
                event.policy,
                event.party,
                event.operator,
                event.at,
                event.lapses_at,
            )
            return replace(channel, proposal=proposal)
        case PolicyChanged():
            return replace(channel, policy=event.policy, policy_id=event.proposal_id, proposal=None)
        case PolicyWithdrawn():
            return replace(channel, proposal=None)
    raise ValueError(f"unknown event {event!r}")  # pragma: no cover - the union is closed
