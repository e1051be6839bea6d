"""Building a notice draft or a decision from keyword arguments, for REST and socket alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from client.errors import ApiError
from client.protocol.note import Signer
from client.protocol.schemas import (
    ActivityWindow,
    Attachment,
    DecisionRequest,
    NoticeDraft,
)
from client.protocol.signatures import sign_decision, sign_draft
from client.protocol.times import utc_now
from client.protocol.vocabulary import Decision, Priority

__all__ = ["NoticeId", "build_decision", "build_draft", "to_uuid"]

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
    channel: str,
    signer: Signer | None = None,
    party: str | None = None,
    bbox: Sequence[float] | None = None,
    attachments: Sequence[Attachment] = (),
) -> NoticeDraft:
    """The draft to send on ``channel``, signed by ``signer`` for ``party`` if there is one.

    Raises:
        ApiError: the draft breaks the schema (``invalid-request``), as the server says it.
        ValueError: ``signer`` is given without the ``party`` it signs for.
    """
    _check_party(signer, party)
    nid = uuid4() if notice_id is None else to_uuid(notice_id)
    # Only when given: a notice without one is signed and stored exactly as before boxes.
    where: dict[str, Any] = {} if bbox is None else {"bbox": list(bbox)}
    # The same for files: a notice without any is signed as before attachments.
    files: dict[str, Any] = {"attachments": list(attachments)} if attachments else {}
    try:
        draft = NoticeDraft(
            id=nid,
            subject=subject,
            body=body,
            priority=priority,
            activity=activity,
            area=area,
            ack_required=ack_required,
            refers_to=None if refers_to is None else to_uuid(refers_to),
            client_time=utc_now(),  # a claim kept beside the server's time, not its identity
            **where,
            **files,
        )
    except ValidationError as exc:
        raise _invalid(exc, nid) from None
    if signer is None or party is None:
        return draft
    return sign_draft(draft, channel=channel, party=party, signer=signer)


def build_decision(
    *,
    decision: Decision,
    reason: str | None,
    channel: str,
    notice_id: UUID,
    signer: Signer | None = None,
    party: str | None = None,
) -> DecisionRequest:
    """The decision on ``notice_id`` to send, signed by ``signer`` for ``party`` if given.

    Raises:
        ApiError: the decision breaks the schema (``invalid-request``).
        ValueError: ``signer`` is given without the ``party`` it signs for.
    """
    _check_party(signer, party)
    try:
        request = DecisionRequest(decision=decision, reason=reason, client_time=utc_now())
    except ValidationError as exc:
        raise _invalid(exc, notice_id) from None
    if signer is None or party is None:
        return request
    return sign_decision(request, channel=channel, party=party, notice=notice_id, signer=signer)


def _check_party(signer: Signer | None, party: str | None) -> None:
    # The party is part of what is signed: without it no signature could verify.
    if signer is not None and party is None:
        raise ValueError("signing needs the party the operator speaks for")


def _invalid(exc: ValidationError, notice_id: UUID) -> ApiError:
    # Refused here as the server would refuse it, so callers handle one exception.
    found = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    problem = {"status": 422, "code": "invalid-request", "errors": found}
    detail = "; ".join(f"{error['field']}: {error['message']}" for error in found)
    return ApiError.from_problem({**problem, "detail": detail}, notice_id=notice_id)
