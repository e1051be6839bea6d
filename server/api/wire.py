"""Between the wire and the domain: requests to commands and policies, notices to responses."""

from __future__ import annotations

from uuid import UUID

from client.protocol import schemas
from server.domain import rules
from server.domain.attachments import Attachment
from server.domain.model import ActivityWindow, BoundingBox, Notice, NoticeContent, Policy
from server.domain.policy import policy_of_wire
from server.store.repository import Identity

__all__ = ["content", "decide_command", "me", "notice_out", "policy", "send_command"]


def content(draft: schemas.NoticeDraft) -> NoticeContent:
    """The domain's notice content from a send request (the domain validates it again)."""
    activity = None
    if draft.activity is not None:
        activity = ActivityWindow(draft.activity.starts_at, draft.activity.ends_at)
    return NoticeContent(
        subject=draft.subject,
        body=draft.body,
        priority=draft.priority,
        activity=activity,
        area=draft.area,
        ack_required=draft.ack_required,
        refers_to=draft.refers_to,
        bbox=None if draft.bbox is None else BoundingBox(*draft.bbox),
        attachments=tuple(
            Attachment(a.sha256, a.size, a.media_type, a.name) for a in draft.attachments
        ),
    )


def send_command(draft: schemas.NoticeDraft) -> rules.SendNotice:
    """The command a send request (REST body or socket message) asks for."""
    return rules.SendNotice(
        draft.id, content(draft), client_time=draft.client_time, signature=draft.signature
    )


def decide_command(notice_id: UUID, request: schemas.DecisionRequest) -> rules.Decide:
    """The command an acknowledgement or objection (REST body or socket message) asks for."""
    return rules.Decide(
        notice_id,
        request.decision,
        reason=request.reason,
        client_time=request.client_time,
        signature=request.signature,
    )


def policy(request: schemas.PolicyIn) -> Policy:
    """The domain's policy from a proposed one; the domain checks it again as a whole.

    Raises:
        Invalid: the policy breaks a rule the schema cannot say (an answer window as long as
            the time between checks, say).
    """
    return policy_of_wire(request.model_dump(mode="json"))


def notice_out(notice: Notice, seq: int) -> schemas.NoticeOut:
    """A notice as the API serves it."""
    c = notice.content
    receipt = decision = cancellation = None
    if notice.received_at is not None:
        receipt = schemas.Receipt(at=notice.received_at, operator=notice.received_by or "")
    if notice.decision is not None and notice.decided_at is not None:
        decision = schemas.DecisionRecord(
            decision=notice.decision,
            reason=notice.reason,
            at=notice.decided_at,
            operator=notice.decided_by or "",
        )
    if notice.cancelled_at is not None:
        cancellation = schemas.Cancellation(
            at=notice.cancelled_at, operator=notice.cancelled_by or "", reason=notice.cancel_reason
        )
    activity = None
    if c.activity is not None:
        activity = schemas.ActivityWindow(
            starts_at=c.activity.starts_at, ends_at=c.activity.ends_at
        )
    return schemas.NoticeOut(
        id=notice.id,
        channel=notice.channel,
        sender=schemas.Actor(party=notice.sender_party, operator=notice.sender_operator),
        subject=c.subject,
        body=c.body,
        priority=c.priority,
        activity=activity,
        area=c.area,
        bbox=None if c.bbox is None else c.bbox.as_list(),
        ack_required=c.ack_required,
        refers_to=c.refers_to,
        status=notice.status,
        seq=seq,
        sent_at=notice.sent_at,
        client_time=notice.client_time,
        ack_due_at=notice.ack_due_at,
        receipt=receipt,
        decision=decision,
        cancellation=cancellation,
        overdue_at=notice.overdue_at,
        attachments=[schemas.Attachment.model_validate(a.wire()) for a in c.attachments],
    )


def me(identity: Identity) -> schemas.Me:
    """The caller, as ``GET /api/v1/me`` shows it."""
    actor = identity.actor
    return schemas.Me(
        operator=schemas.NamedRef(id=actor.operator, name=identity.operator_name),
        role=actor.role,
        party=schemas.NamedRef(id=actor.party, name=identity.party_name),
        email=identity.email,
    )
