"""A party's webhook subscriptions and the channel's delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from client.protocol import schemas
from server.api.deps import ChannelId, CurrentOperator, DatabaseDep
from server.api.problems import responses
from server.config import Settings
from server.metrics import Metrics
from server.secrets import SecretBox
from server.service import webhooks
from server.service.destinations import Guard

__all__ = ["router"]

router = APIRouter(prefix="/channels/{channel_id}", tags=["webhooks"])
"""One router per concept; ``server.app`` mounts them under ``/api/v1``."""

WebhookId = Annotated[UUID, Path(description="The subscription's id.")]
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many deliveries.")]
Before = Annotated[
    str | None,
    Query(
        description="`next_before` of the previous page: the deliveries before it.", min_length=1
    ),
]


async def _secrets(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secrets  # loaded by create_app, from its key file
    return box


async def _guard(request: Request) -> Guard:
    settings: Settings = request.app.state.settings
    return Guard.from_settings(settings)


def _not_stored(response: Response) -> None:
    """An answer that holds a secret says so to every cache on the way, whatever else does.

    ``RequestContext`` says ``no-store`` on every ``/api/`` answer already; the two
    answers that carry a secret do not leave it to a middleware someone may reorder.
    """
    response.headers["Cache-Control"] = "no-store"


SecretsDep = Annotated[SecretBox, Depends(_secrets)]
GuardDep = Annotated[Guard, Depends(_guard)]


@router.post(
    "/webhooks",
    summary="Subscribe to the channel's events",
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 422),
)
async def subscribe(
    db: DatabaseDep,
    box: SecretsDep,
    guard: GuardDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    subscription: schemas.WebhookRequest,
    response: Response,
) -> schemas.WebhookCreated:
    """Have the server `POST` the channel's events to `url`, signed by Standard Webhooks.

    Only an admin of a party subscribes it (403 for others). The answer holds the signing
    secret, `whsec_…`: it is shown this once. The URL's host must resolve, and every
    address it resolves to must be public, unless the server allows its network; else
    422 `webhook-address-refused`, and nothing is stored. Each event of the channel's
    log whose type is in `types` (all if empty) is then sent, in a call whose
    `webhook-id` is the same on every try (see docs/how-to/receive-webhooks.md).
    """
    _not_stored(response)
    return await webhooks.subscribe(
        db, box, guard, actor, channel_id, url=subscription.url, types=subscription.types
    )


@router.get("/webhooks", summary="List my party's webhooks", responses=responses(403, 404, 422))
async def list_webhooks(
    db: DatabaseDep, actor: CurrentOperator, channel_id: ChannelId
) -> list[schemas.Webhook]:
    """The caller's party's subscriptions on the channel, oldest first, without secrets."""
    return await webhooks.list_webhooks(db, actor, channel_id)


@router.get("/webhooks/{webhook_id}", summary="One webhook", responses=responses(403, 404, 422))
async def show_webhook(
    db: DatabaseDep, actor: CurrentOperator, channel_id: ChannelId, webhook_id: WebhookId
) -> schemas.Webhook:
    """A subscription of the caller's party: its URL, types, state and failures in a row.

    Another party's subscription is not found (404), as one that does not exist.
    """
    return await webhooks.show(db, actor, channel_id, webhook_id)


@router.patch(
    "/webhooks/{webhook_id}", summary="Change a webhook", responses=responses(403, 404, 422)
)
async def change_webhook(
    db: DatabaseDep,
    guard: GuardDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    webhook_id: WebhookId,
    change: schemas.WebhookChange,
) -> schemas.Webhook:
    """Change the URL (checked as at creation), the event types, or whether it is called.

    `"enabled": true` starts the calls again after the server disabled the subscription
    (failures, or `410 Gone`), and clears its failures; events logged while it was
    disabled are not sent.
    """
    return await webhooks.change(
        db,
        guard,
        actor,
        channel_id,
        webhook_id,
        url=change.url,
        types=change.types,
        enabled=change.enabled,
    )


@router.delete(
    "/webhooks/{webhook_id}",
    summary="Remove a webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(403, 404, 422),
)
async def remove_webhook(
    request: Request,
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    webhook_id: WebhookId,
) -> None:
    """Stop calling it for good. Calls still waiting are given up; its deliveries stay in
    the party's delivery log (`GET …/deliveries`, and `GET …/webhooks/{id}/deliveries`
    by its id). Anything else asked of it is then 404, as for one that never was."""
    metrics: Metrics = request.app.state.metrics
    await webhooks.remove(db, actor, channel_id, webhook_id, metrics=metrics)


@router.post(
    "/webhooks/{webhook_id}/rotate",
    summary="Rotate a webhook's secret",
    responses=responses(403, 404, 422),
)
async def rotate_secret(
    db: DatabaseDep,
    box: SecretsDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    webhook_id: WebhookId,
    rotation: schemas.RotateRequest,
    response: Response,
) -> schemas.RotatedSecret:
    """Give the subscription a new secret, shown this once.

    For `overlap_seconds` (a day unless said) every call carries two signatures in
    `webhook-signature`, one with each secret, so the receiver can move to the new one
    when it likes; `0` stops the old secret at once.
    """
    _not_stored(response)
    overlap = timedelta(seconds=rotation.overlap_seconds)
    return await webhooks.rotate(db, box, actor, channel_id, webhook_id, overlap=overlap)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="A webhook's delivery log",
    responses=responses(403, 404, 422),
)
async def webhook_deliveries(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    webhook_id: WebhookId,
    limit: Limit = 50,
    before: Before = None,
) -> schemas.DeliveryPage:
    """The calls made, or still to make, to this subscription, newest event first, each with
    every try: when, the receiver's status, the error, how long it took. Still read once
    the subscription is removed."""
    return await webhooks.deliveries_of(
        db, actor, channel_id, webhook_id, limit=limit, before=before
    )


@router.get(
    "/deliveries",
    summary="My party's delivery log",
    responses=responses(403, 404, 422),
)
async def channel_deliveries(
    db: DatabaseDep,
    actor: CurrentOperator,
    channel_id: ChannelId,
    kind: Annotated[
        Literal["webhook", "mail"] | None,
        Query(description="Only webhook calls, or only mail; both if left out."),
    ] = None,
    limit: Limit = 50,
    before: Before = None,
) -> schemas.DeliveryPage:
    """What the channel's events sent to the caller's party: calls to its webhooks (those
    removed too), and mail to its operators, newest event first, each with every try.
    Admins only."""
    return await webhooks.channel_deliveries(
        db, actor, channel_id, kind=kind, limit=limit, before=before
    )
