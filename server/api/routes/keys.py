"""Operators' signing keys: registered in the channel's log, where auditors find them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from client.protocol import schemas
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep, FanoutDep
from server.api.problems import responses
from server.service import commands

__all__ = ["router"]

router = APIRouter(prefix="/channels/{channel_id}/keys", tags=["keys"])


@router.post(
    "",
    summary="Register my signing key",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "This key was in force already: its registration, unchanged.",
            "model": schemas.KeyOut,
        },
        **responses(403, 404, 422),
    },
)
async def register_key(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    registration: schemas.KeyRegistration,
    response: Response,
) -> schemas.KeyOut:
    """Make the caller's public key known on the channel, to check the signatures it makes.

    The key goes into the channel's log as an `operator.key_registered` event, so that the
    other party can check the caller's signatures without trusting the server. It must be
    named after the caller's operator id (`hotline keygen` makes such keys); it replaces the
    caller's earlier key on this channel from now on. Registering the key already in force
    changes nothing (200).
    """
    outcome = await commands.register_key(
        db, registration.verifier_key, channel_id=channel_id, actor=actor, fanout=fanout
    )
    if not outcome.changed:
        response.status_code = status.HTTP_200_OK
    event = outcome.registration
    return schemas.KeyOut(
        channel=event.channel,
        operator=event.data["operator"],
        verifier_key=event.data["verifier_key"],
        seq=event.seq,
        registered_at=event.at,
    )
