"""Operators' own settings: their e-mail address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from client.protocol import schemas
from client.protocol.limits import ID_PATTERN
from server.api.deps import CurrentOperator, DatabaseDep
from server.api.problems import responses
from server.service import admin

__all__ = ["router"]

router = APIRouter(tags=["operators"])

OperatorId = Annotated[
    str, Path(description="The operator's id, such as `ana`.", pattern=ID_PATTERN)
]


@router.put(
    "/operators/{operator_id}/email",
    summary="Set an operator's e-mail address",
    responses=responses(403, 404, 422),
)
async def set_email(
    db: DatabaseDep, actor: CurrentOperator, operator_id: OperatorId, body: schemas.EmailAddress
) -> schemas.OperatorEmail:
    """Where the operator's mail goes from now on: escalations and missed checks sent to
    it, and notices its party has not seen (see docs/how-to/send-mail.md).

    An operator sets its own address; an admin those of its party's operators (403 for
    anybody else of the party; an operator of another party is not found). An address
    that is not one (by the rule of HTML's `<input type=email>`) is refused with 422 and
    the address in force stays.
    """
    email = await admin.set_email(db, operator_id, body.email, by=actor)
    return schemas.OperatorEmail(operator=operator_id, email=email)


@router.delete(
    "/operators/{operator_id}/email",
    summary="Clear an operator's e-mail address",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(403, 404, 422),
)
async def clear_email(db: DatabaseDep, actor: CurrentOperator, operator_id: OperatorId) -> None:
    """Forget where the operator's mail goes: it gets none until an address is set again.

    Allowed to the same callers as setting it.
    """
    await admin.set_email(db, operator_id, None, by=actor)
