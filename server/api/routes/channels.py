"""Who am I, my channels, a channel's log, and its conflicting plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from client.protocol import schemas
from server.api import wire
from server.api.deps import ChannelId, CurrentIdentity, CurrentOperator, DatabaseDep
from server.api.problems import responses
from server.service import queries

__all__ = ["router"]

router = APIRouter(tags=["channels"])


@router.get("/me", summary="Who am I", responses=responses())
async def who_am_i(identity: CurrentIdentity) -> schemas.Me:
    """The operator the bearer token belongs to, its role and its party."""
    return wire.me(identity)


@router.get("/channels", summary="My party's channels", responses=responses())
async def list_channels(db: DatabaseDep, actor: CurrentOperator) -> list[schemas.Channel]:
    """Every channel the caller's party is one of the two ends of."""
    return await queries.channels(db, actor)


@router.get("/channels/{channel_id}", summary="One channel", responses=responses(404, 422))
async def get_channel(
    db: DatabaseDep, actor: CurrentOperator, channel_id: ChannelId
) -> schemas.Channel:
    """A channel of the caller's party, with its policy and the head of its log."""
    return await queries.channel(db, actor, channel_id)


@router.get(
    "/channels/{channel_id}/events",
    summary="Read the channel's log",
    responses=responses(404, 422),
)
async def read_log(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    after: Annotated[
        int,
        Query(
            ge=0, le=schemas.MAX_SEQ, description="Return events with a sequence number above this."
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many events.")] = 100,
) -> schemas.EventPage:
    """Events in log order from just after `after`. Read again from the last `seq` to page."""
    return await queries.read_log(db, actor, channel_id, after=after, limit=limit)


@router.get(
    "/channels/{channel_id}/conflicts",
    summary="Conflicting plans",
    tags=["notices"],
    responses=responses(404, 422),
)
async def list_conflicts(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    open_: Annotated[
        bool | None,
        Query(
            alias="open",
            description="`true`: only conflicts not yet resolved; `false`: only resolved ones; "
            "omitted: both.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[schemas.Conflict]:
    """Pairs of notices planning activities in the same area at the same time, newest first.

    Sending a notice whose activity window and area overlap one still planned, by either
    party, logs `conflict.detected`; cancelling one of the two, or an update that removes
    the overlap, logs `conflict.resolved`.
    """
    return await queries.conflicts(db, actor, channel_id, open=open_, limit=limit)
