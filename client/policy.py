"""The SDK's calls about a channel's policy: read it, propose a change, accept or withdraw one.

A policy changes only when both parties agree: an admin of one party proposes
(``channel.policy_proposed``), an admin of the other accepts (``channel.policy_changed``),
or the proposal lapses or is withdrawn (``channel.policy_withdrawn``)::

    proposal = await water.propose_policy("water-roads", policy, lapses_in=timedelta(days=2))
    state = await roads.accept_policy("water-roads", proposal.id)
    assert state.pending is None
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from client.calls import Requester, channel_path, checked
from client.drafts import to_uuid
from client.errors import Unreachable
from client.protocol.schemas import PolicyIn, PolicyState, Proposal, ProposalRequest

__all__ = ["DEFAULT_LAPSE", "PolicyCalls"]

DEFAULT_LAPSE = timedelta(days=7)
"""How long a proposal waits for the other party unless told otherwise."""


class PolicyCalls:
    """Policy calls of :class:`~client.sdk.HotlineClient` (a mixin)."""

    async def policy(self: Requester, channel: str) -> PolicyState:
        """The policy in force on ``channel``, since when, and the proposal waiting, if any."""
        found = await self._request("GET", f"{channel_path(channel)}/policy", retry=True)
        return PolicyState.model_validate(found)

    async def propose_policy(
        self: Requester,
        channel: str,
        policy: PolicyIn | Mapping[str, Any],
        *,
        lapses_in: timedelta = DEFAULT_LAPSE,
        proposal_id: UUID | str | None = None,
    ) -> Proposal:
        """Propose ``policy`` to the other party; an admin of theirs must accept it.

        A proposal waiting already, from either party, is replaced by this one.

        Args:
            channel: the channel's id.
            policy: the whole policy, in its wire form (as ``policy()`` returns it).
            lapses_in: how long the other party has to accept: 1 minute to 30 days.
            proposal_id: the proposal's id; a fresh UUID when omitted. Proposing again
                with the same id and policy is safe: the server answers with the original.

        Returns:
            The proposal as the server recorded it, with the time it lapses.

        Raises:
            Invalid: the policy breaks a rule (or the schema: then nothing was sent).
            Forbidden: the operator is not an admin of one of the channel's parties.
            Conflict: ``proposal_id`` was used before for another proposal.
            Unreachable: no answer; its message names the id to retry with.
        """
        pid = uuid4() if proposal_id is None else to_uuid(proposal_id)
        request = checked(
            ProposalRequest,
            {
                "id": pid,
                "policy": checked(PolicyIn, policy),
                "lapses_in_seconds": int(lapses_in.total_seconds()),
            },
        )
        try:
            found = await self._request(
                "POST",
                f"{channel_path(channel)}/policy/proposals",
                json=request.model_dump(mode="json"),
                retry=True,  # the id makes it safe
            )
        except Unreachable as exc:
            raise Unreachable(f"{exc} (retry with proposal id {pid})") from exc
        return Proposal.model_validate(found)

    async def accept_policy(self: Requester, channel: str, proposal_id: UUID | str) -> PolicyState:
        """Accept the other party's proposal: its policy is in force from now.

        Accepting again the proposal in force changes nothing, so a lost answer is retried
        by itself.

        Raises:
            Conflict: code ``proposal-closed``: it lapsed, was withdrawn or replaced, or
                was never made.
            Forbidden: it is the operator's own party's proposal, or the operator is no admin.
            NotFound: no such channel of the operator's party.
        """
        return await _answer(self, channel, to_uuid(proposal_id), "accept", retry=True)

    async def withdraw_policy(
        self: Requester, channel: str, proposal_id: UUID | str
    ) -> PolicyState:
        """Withdraw the operator's own party's proposal before it is accepted.

        Raises:
            Conflict: code ``proposal-closed``: it is no longer waiting, or was never made.
            Forbidden: the other party proposed it, or the operator is no admin.
            NotFound: no such channel of the operator's party.
        """
        # Not retried by itself: a second withdrawal of one that did arrive is refused.
        return await _answer(self, channel, to_uuid(proposal_id), "withdraw", retry=False)


async def _answer(
    client: Requester, channel: str, pid: UUID, action: str, *, retry: bool
) -> PolicyState:
    path = f"{channel_path(channel)}/policy/proposals/{pid}/{action}"
    return PolicyState.model_validate(await client._request("POST", path, retry=retry))
