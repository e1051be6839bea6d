"""The verifiable log: the server's key, a channel's signed checkpoint, and proofs."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query

from client.protocol import proofs, schemas
from server.api.deps import ChannelId, CheckpointsDep, CurrentOperator, DatabaseDep
from server.api.problems import responses
from server.service import log

__all__ = ["router"]

router = APIRouter(tags=["log"])

Size = Annotated[int, Query(ge=0, le=schemas.MAX_SEQ, description="A tree size (events 1 to it).")]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get("/log/key", summary="The key that signs checkpoints", responses=responses())
async def log_key(checkpoints: CheckpointsDep, actor: CurrentOperator) -> proofs.LogKeyOut:
    """The server's verifier key. Compare it with one you got another way before you trust it."""
    keys = checkpoints.keys
    previous = None if keys.previous is None else str(keys.previous.verifier())
    return proofs.LogKeyOut(
        name=keys.name, verifier_key=keys.verifier_key, previous_verifier_key=previous
    )


@router.get(
    "/channels/{channel_id}/checkpoint",
    summary="The channel's latest signed checkpoint",
    responses=responses(404, 422),
)
async def checkpoint(
    db: DatabaseDep, checkpoints: CheckpointsDep, actor: CurrentOperator, channel_id: ChannelId
) -> proofs.CheckpointOut:
    """The size and Merkle root of the channel's whole log, signed by the server."""
    signed = await log.latest_checkpoint(db, checkpoints, actor, channel_id)
    c = signed.checkpoint
    return proofs.CheckpointOut(
        origin=c.origin,
        size=c.size,
        root_hash=base64.b64encode(c.root_hash).decode("ascii"),
        note=signed.note,
    )


@router.get(
    "/channels/{channel_id}/proofs/inclusion",
    summary="Prove an event is in the log",
    responses=responses(404, 422),
)
async def inclusion_proof(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    seq: Annotated[int, Query(ge=1, le=schemas.MAX_SEQ, description="The event.")],
    size: Size,
) -> proofs.InclusionProofOut:
    """The hashes that rebuild the root of the first `size` events from event `seq`."""
    proof = await log.inclusion_proof(db, actor, channel_id, seq=seq, size=size)
    return proofs.InclusionProofOut(seq=seq, size=size, hashes=_b64(proof.hashes))


@router.get(
    "/channels/{channel_id}/proofs/consistency",
    summary="Prove a later log extends an earlier one",
    responses=responses(404, 422),
)
async def consistency_proof(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    old_size: Annotated[int, Query(ge=0, le=schemas.MAX_SEQ, description="The earlier tree size.")],
    size: Size,
) -> proofs.ConsistencyProofOut:
    """The hashes that rebuild both roots, proving the first `old_size` events unchanged."""
    proof = await log.consistency_proof(db, actor, channel_id, old_size=old_size, size=size)
    return proofs.ConsistencyProofOut(old_size=old_size, size=size, hashes=_b64(proof.hashes))
