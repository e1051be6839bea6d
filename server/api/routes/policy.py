"""A channel's policy: the one in force, and changes that both parties' admins agree to."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status

from client.protocol import schemas
from server.api import wire
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep, FanoutDep
from server.api.problems import responses
from server.service import policy

__all__ = ["router"]

router = APIRouter(prefix="/channels/{channel_id}/policy", tags=["policy"])

ProposalId = Annotated[UUID, Path(description="The proposal's id, chosen by its proposer.")]


@router.get("", summary="The policy in force", responses=responses(404, 422))
async def show_policy(
    db: DatabaseDep, actor: CurrentOperator, channel_id: ChannelId
) -> schemas.PolicyState:
    """The channel's policy in force, as its log says, and the proposal waiting, if any."""
    return await policy.show(db, actor, channel_id)


@router.post(
    "/proposals",
    summary="Propose a policy",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "This id was proposed before with the same policy: the proposal.",
            "model": schemas.Proposal,
        },
        **responses(403, 404, 409, 422),
    },
)
async def propose_policy(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    request: schemas.ProposalRequest,
    response: Response,
) -> schemas.Proposal:
    """Propose a new policy to the other party; only an admin may.

    It takes effect only when an admin of the other party accepts it
    (`channel.policy_changed`). Until then it waits, logged as `channel.policy_proposed`,
    unless it lapses after `lapses_in_seconds`, is withdrawn, or a newer proposal from
    either party replaces it. Proposing the same `id` again with the same policy is safe
    (200); with another policy it is a conflict (409).
    """
    outcome = await policy.propose(
        db,
        wire.policy(request.policy),
        timedelta(seconds=request.lapses_in_seconds),
        proposal_id=request.id,
        channel_id=channel_id,
        actor=actor,
        fanout=fanout,
    )
    if not outcome.changed:
        response.status_code = status.HTTP_200_OK
    return outcome.proposal


@router.post(
    "/proposals/{proposal_id}/accept",
    summary="Accept the other party's proposal",
    responses=responses(403, 404, 409, 422),
)
async def accept_policy(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    proposal_id: ProposalId,
) -> schemas.PolicyState:
    """Put the other party's proposal in force from now; only an admin may.

    A party cannot accept its own proposal (403). A proposal that lapsed, was withdrawn
    or replaced waits no more (409 `proposal-closed`). Accepting the proposal already in
    force changes nothing.
    """
    return await policy.accept(db, proposal_id, channel_id=channel_id, actor=actor, fanout=fanout)


@router.post(
    "/proposals/{proposal_id}/withdraw",
    summary="Withdraw my party's proposal",
    responses=responses(403, 404, 409, 422),
)
async def withdraw_policy(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    proposal_id: ProposalId,
) -> schemas.PolicyState:
    """Withdraw a proposal of the caller's party before it is accepted; only an admin may.

    A proposal no longer waiting cannot be withdrawn (409 `proposal-closed`).
    """
    return await policy.withdraw(db, proposal_id, channel_id=channel_id, actor=actor, fanout=fanout)
