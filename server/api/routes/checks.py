"""Liveness checks: the checks the channel asked, answering one, and each party's availability."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from client.protocol import schemas
from client.protocol.limits import ID_PATTERN
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep, FanoutDep
from server.api.problems import responses
from server.service import checks

__all__ = ["router"]

router = APIRouter(prefix="/channels/{channel_id}", tags=["checks"])

CheckId = Annotated[UUID, Path(description="The check's id, from its `check.requested` event.")]


@router.get("/checks", summary="List liveness checks", responses=responses(404, 422))
async def list_checks(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    party: Annotated[
        str | None, Query(description="Only checks that asked this party.", pattern=ID_PATTERN)
    ] = None,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", min_length=1)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> schemas.CheckPage:
    """The checks the channel's schedule asked of either party, newest first, a page at a time."""
    return await checks.list_checks(db, actor, channel_id, party=party, cursor=cursor, limit=limit)


@router.post(
    "/checks/{check_id}/answer",
    summary="Answer a liveness check",
    responses=responses(403, 404, 409, 422),
)
async def answer_check(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    check_id: CheckId,
) -> schemas.Check:
    """Say that somebody of the caller's party is listening (`check.answered`).

    Any operator of the party asked may answer, whatever its role, until `answer_by`;
    after that the check is closed (409 `check-closed`) and is logged missed. Only the
    party asked may answer (403). A second answer changes nothing.
    """
    outcome = await checks.answer(db, check_id, channel_id=channel_id, actor=actor, fanout=fanout)
    return outcome.check


@router.get(
    "/availability",
    summary="Each party's availability",
    responses=responses(404, 422),
)
async def availability(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    since: Annotated[
        schemas.Time | None,
        Query(description="Count checks requested at or after this time; a week ago if omitted."),
    ] = None,
    until: Annotated[
        schemas.Time | None,
        Query(description="Count checks requested before this time; now if omitted."),
    ] = None,
) -> schemas.Availability:
    """How each party answered the liveness checks requested in a time range.

    For each party: the checks requested, answered, missed and still pending, and the
    median time it took to answer. A range with nothing in it (`since` not before
    `until`) is refused.
    """
    return await checks.availability(db, actor, channel_id, since=since, until=until)
