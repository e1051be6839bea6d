"""Notices: send, list, read, confirm receipt, acknowledge or object, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from client.protocol import schemas
from client.protocol.limits import ID_PATTERN
from client.protocol.vocabulary import Priority, Status
from server.api import wire
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep, FanoutDep, NoticeId
from server.api.problems import responses
from server.domain import rules
from server.service import commands, queries
from server.store.repository import NoticeFilter

__all__ = ["router"]

router = APIRouter(prefix="/channels/{channel_id}/notices", tags=["notices"])


@router.post(
    "",
    summary="Send a notice",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "This id was sent before with the same content: the original.",
            "model": schemas.NoticeOut,
        },
        **responses(403, 404, 409, 422),
    },
)
async def send_notice(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    draft: schemas.NoticeDraft,
    response: Response,
) -> schemas.NoticeOut:
    """Send a notice to the other party of the channel.

    The answer comes only once the notice and its `notice.sent` event are committed.
    Sending the same `id` again is safe: the same content returns the original (200),
    other content is a conflict (409).
    """
    command = wire.send_command(draft)
    outcome = await commands.execute(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    if not outcome.changed:
        response.status_code = status.HTTP_200_OK
    return wire.notice_out(outcome.notice, outcome.seq)


@router.get("", summary="List notices", responses=responses(404, 422))
async def list_notices(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    status_: Annotated[
        Status | None, Query(alias="status", description="Only notices in this state.")
    ] = None,
    priority: Annotated[Priority | None, Query(description="Only this priority.")] = None,
    sent_by: Annotated[
        str | None, Query(description="Only notices sent by this party.", pattern=ID_PATTERN)
    ] = None,
    awaiting_decision: Annotated[
        bool, Query(description="Only notices still waiting for an acknowledgement or objection.")
    ] = False,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page.", min_length=1)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> schemas.NoticePage:
    """Notices of the channel, newest first, a page at a time."""
    filters = NoticeFilter(
        status=status_, priority=priority, sent_by=sent_by, awaiting_decision=awaiting_decision
    )
    listing = await queries.list_notices(db, actor, channel_id, filters, cursor=cursor, limit=limit)
    return schemas.NoticePage(
        items=[wire.notice_out(notice, seq) for notice, seq in listing.notices],
        next_cursor=listing.next_cursor,
    )


@router.get("/{notice_id}", summary="One notice with its history", responses=responses(404, 422))
async def get_notice(
    db: DatabaseDep, actor: CurrentOperator, channel_id: ChannelId, notice_id: NoticeId
) -> schemas.NoticeDetail:
    """A notice, its receipt, its decision, and all its events from the log."""
    found = await queries.notice(db, actor, channel_id, notice_id)
    out = wire.notice_out(found.notice, found.seq)
    return schemas.NoticeDetail(**out.model_dump(), history=found.history)


@router.post(
    "/{notice_id}/receipt",
    summary="Confirm receipt",
    responses=responses(403, 404, 422),
)
async def record_receipt(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    notice_id: NoticeId,
) -> schemas.NoticeOut:
    """Say that the receiving party's client has the notice.

    The first confirmation logs `notice.received`; later ones change nothing.
    """
    command = rules.RecordReceipt(notice_id)
    outcome = await commands.execute(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    return wire.notice_out(outcome.notice, outcome.seq)


@router.post(
    "/{notice_id}/decision",
    summary="Acknowledge or object",
    responses=responses(403, 404, 409, 422),
)
async def decide(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    notice_id: NoticeId,
    request: Annotated[schemas.DecisionRequest, Body()],
) -> schemas.NoticeOut:
    """Acknowledge the notice, or object with a reason, for the receiving party.

    Only the first decision counts: a second one is refused with 409, and the problem
    carries the decision that stands.
    """
    command = wire.decide_command(notice_id, request)
    outcome = await commands.execute(db, command, channel_id=channel_id, actor=actor, fanout=fanout)
    return wire.notice_out(outcome.notice, outcome.seq)


@router.post(
    "/{notice_id}/cancellation",
    summary="Cancel a notice",
    responses=responses(403, 404, 409, 422),
)
async def cancel(
    db: DatabaseDep,
    fanout: FanoutDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    notice_id: NoticeId,
    request: Annotated[schemas.CancelRequest | None, Body()] = None,
) -> schemas.NoticeOut:
    """Withdraw a notice the caller's party sent, while it still awaits a decision."""
    reason = None if request is None else request.reason
    outcome = await commands.execute(
        db,
        rules.Cancel(notice_id, reason=reason),
        channel_id=channel_id,
        actor=actor,
        fanout=fanout,
    )
    return wire.notice_out(outcome.notice, outcome.seq)
