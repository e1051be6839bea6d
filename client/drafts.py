"""Building a notice draft from keyword arguments, for REST and socket alike."""

from __future__ import annotations

import logging
from uuid import UUID, uuid4

from pydantic import ValidationError

from client.errors import ApiError
from client.protocol.schemas import (
    ActivityWindow,
    NoticeDraft,
)
from client.protocol.times import utc_now
from client.protocol.vocabulary import Priority

__all__ = ["NoticeId", "build_draft", "to_uuid"]

log = logging.getLogger(__name__)

NoticeId = UUID | str


def to_uuid(notice_id: NoticeId) -> UUID:
    return notice_id if isinstance(notice_id, UUID) else UUID(notice_id)


def build_draft(
    *,
    subject: str,
    body: str,
    priority: Priority,
    activity: ActivityWindow | None,
    area: str | None,
    ack_required: bool,
    refers_to: NoticeId | None,
    notice_id: NoticeId | None,
) -> NoticeDraft:
    nid = uuid4() if notice_id is None else to_uuid(notice_id)
    try:
        return NoticeDraft(
            id=nid,
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=None if refers_to is None else to_uuid(refers_to),
            client_time=utc_now(),  # a claim kept beside the server's time, not its identity
        )
    except ValidationError as exc:
        # Refused here as the server would refuse it, so callers handle one exception.
        found = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        problem = {"status": 422, "code": "invalid-request", "errors": found}
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in found)
        raise ApiError.from_problem({**problem, "detail": detail}, notice_id=nid) from None
