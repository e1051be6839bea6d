"""A party's webhook subscriptions: made, listed, changed, rotated, removed, and disabled.

Only an admin of a party manages its subscriptions, and sees only its own party's: a
subscription of the other party on the same channel is as unknown as one that does not
exist (404). Each change locks the channel's row and rewrites the channel's list of
enabled subscriptions in the same transaction (``server/store/reach.py``), so the single
writer, which reads that list under the same lock, sends each event to the
subscriptions as they were when it was committed.

Secrets: a new subscription, and each rotation, makes a secret (``whsec_…``) that is
answered once and stored only sealed with the server's secrets key (``server/secrets.py``).
Rotating keeps the old secret signing beside the new one for an overlap the admin
chooses, so the receiver can switch without losing a call.

A URL is checked by the address guard when it is set (``server/service/destinations.py``):
refused, nothing is stored. The sender checks it again before every call
(``server/service/webhook_sender.py``, whose :class:`WebhookSender` is exported here too).

When deliveries are given up too often in a row, or the receiver answers ``410 Gone``,
the sender disables the subscription (``server/service/webhook_events.py``).

Removing a subscription keeps its row, disabled and marked removed
(``server/store/reach.py``): it is gone from the list, and showing, changing, rotating
or removing it again is refused as for one that never was (404); but its deliveries, and
every try of them, stay readable in its party's delivery log, which finds them through
it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from client.protocol import schemas
from client.protocol.times import to_millisecond
from client.protocol.vocabulary import Role
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.model import Actor
from server.domain.webhooks import new_secret
from server.metrics import Metrics
from server.secrets import SecretBox
from server.service.destinations import Guard
from server.service.webhook_events import SUBSCRIPTION_REMOVED
from server.service.webhook_sender import WebhookSender
from server.store.db import Database
from server.store.reach import Reach, StoredDelivery, StoredWebhook, refresh_channel_webhooks

__all__ = [
    "MAX_WEBHOOKS",
    "WebhookSender",
    "change",
    "channel_deliveries",
    "decode_before",
    "deliveries_of",
    "encode_before",
    "list_webhooks",
    "remove",
    "rotate",
    "show",
    "subscribe",
    "webhook_out",
]

log = logging.getLogger(__name__)

MAX_WEBHOOKS = 20
"""Subscriptions one party may have on one channel."""


# -- what the API shows --------------------------------------------------------------------


def webhook_out(webhook: StoredWebhook) -> schemas.Webhook:
    """A subscription as the API serves it: never its secrets."""
    return schemas.Webhook(
        id=webhook.id,
        channel=webhook.channel,
        party=webhook.party,
        url=webhook.url,
        types=list(webhook.types),
        enabled=webhook.enabled,
        failures=webhook.failures,
        disabled_reason=webhook.disabled_reason,
        previous_secret_until=webhook.previous_until if webhook.previous_secret else None,
        created_at=webhook.created_at,
        created_by=webhook.created_by,
    )


def _delivery_out(delivery: StoredDelivery) -> schemas.Delivery:
    return schemas.Delivery.model_validate(
        {
            "id": delivery.id,
            "kind": delivery.kind,
            "channel": delivery.channel,
            "seq": delivery.seq,
            "event_type": delivery.event_type,
            "target": delivery.target,
            "status": delivery.status,
            "next_attempt_at": delivery.next_attempt_at,
            "created_at": delivery.created_at,
            "finished_at": delivery.finished_at,
            "last_error": delivery.last_error,
            "attempts": [
                schemas.DeliveryAttempt(
                    at=a.at,
                    ok=a.ok,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in delivery.attempts
            ],
        }
    )


def encode_before(seq: int, delivery_id: uuid.UUID) -> str:
    """An opaque cursor meaning "deliveries before this one" (newest event first)."""
    return base64.urlsafe_b64encode(f"{seq}:{delivery_id}".encode()).decode().rstrip("=")


def decode_before(cursor: str) -> tuple[int, uuid.UUID]:
    """Read a cursor made by :func:`encode_before`.

    Raises:
        Invalid: the cursor was not made by this server.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq, _, delivery_id = text.partition(":")
        if not seq.isdigit() or int(seq) > schemas.MAX_SEQ:
            raise ValueError(text)
        return int(seq), uuid.UUID(delivery_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this server gave out", field="before") from exc


# -- who may ------------------------------------------------------------------------------


async def _admin_of(db: Database, actor: Actor, channel_id: str) -> None:
    """Refuse unless the channel is the actor's party's (404) and the actor its admin (403)."""
    async with db.session() as session:
        if not await Reach(session).channel_visible(channel_id, party=actor.party):
            raise NotFound(f"no channel {channel_id}")
    if actor.role is not Role.ADMIN:
        raise Forbidden(f"only an admin of a party manages its webhooks, not an {actor.role}")


def _own(
    webhook: StoredWebhook | None, actor: Actor, channel_id: str, *, removed: bool = False
) -> StoredWebhook:
    """The subscription if it is the actor's party's on this channel (and not removed,
    unless ``removed``: its delivery log is still read); else 404."""
    if webhook is None or webhook.channel != channel_id or webhook.party != actor.party:
        raise NotFound("no such webhook on this channel")
    if webhook.removed and not removed:
        raise NotFound("no such webhook on this channel: it was removed")
    return webhook


def _types(types: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(str(t) for t in types))  # once each, in the order given


# -- managing subscriptions ---------------------------------------------------------------


async def subscribe(
    db: Database,
    box: SecretBox,
    guard: Guard,
    actor: Actor,
    channel_id: str,
    *,
    url: str,
    types: Sequence[str] = (),
) -> schemas.WebhookCreated:
    """Subscribe the actor's party to a channel's events at ``url``.

    Returns:
        The subscription with its secret, which is not shown again.

    Raises:
        Refusal: not the party's channel (404), not an admin (403), a URL the guard
            refuses (422 ``webhook-address-refused``), or too many subscriptions (422).
    """
    await _admin_of(db, actor, channel_id)
    await guard.check(url)  # before any transaction: resolving may take a while
    webhook_id = uuid.uuid4()
    secret = new_secret()
    async with db.session() as session:
        reach = Reach(session)
        if not await reach.lock_channel(channel_id, party=actor.party):
            raise NotFound(f"no channel {channel_id}")
        if len(await reach.webhook_ids_of(channel_id, party=actor.party)) >= MAX_WEBHOOKS:
            raise Invalid(f"a party has at most {MAX_WEBHOOKS} webhooks on a channel", field="url")
        await reach.add(
            webhook_id,
            channel_id=channel_id,
            party=actor.party,
            url=url,
            types=_types(types),
            secret=box.seal(secret, bound_to=str(webhook_id)),
            created_by=actor.operator,
            now=to_millisecond(db.clock.now()),
        )
        await refresh_channel_webhooks(session, channel_id)
        await session.commit()
        stored = await reach.webhook(webhook_id)
    assert stored is not None, "committed in this very session"
    log.info(
        "webhook subscribed",
        extra={"webhook": str(webhook_id), "channel": channel_id, "party": actor.party},
    )
    return schemas.WebhookCreated(**webhook_out(stored).model_dump(), secret=secret)


async def list_webhooks(db: Database, actor: Actor, channel_id: str) -> list[schemas.Webhook]:
    """The actor's party's subscriptions on a channel, oldest first (no secrets)."""
    await _admin_of(db, actor, channel_id)
    async with db.session() as session:
        found = await Reach(session).webhooks_of(channel_id, party=actor.party)
    return [webhook_out(webhook) for webhook in found]


async def show(
    db: Database, actor: Actor, channel_id: str, webhook_id: uuid.UUID
) -> schemas.Webhook:
    """One of the actor's party's subscriptions (no secrets)."""
    await _admin_of(db, actor, channel_id)
    async with db.session() as session:
        return webhook_out(_own(await Reach(session).webhook(webhook_id), actor, channel_id))


async def change(
    db: Database,
    guard: Guard,
    actor: Actor,
    channel_id: str,
    webhook_id: uuid.UUID,
    *,
    url: str | None = None,
    types: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> schemas.Webhook:
    """Change a subscription's URL, its event types, or whether it is called.

    Enabling clears the failures counted and the reason it was disabled. ``None`` leaves
    a field as it is.

    Raises:
        Refusal: as :func:`subscribe`; not one of the party's subscriptions (404).
    """
    await _admin_of(db, actor, channel_id)
    if url is not None:
        await guard.check(url)
    values: dict[str, object] = {}
    if url is not None:
        values["url"] = url
    if types is not None:
        values["types"] = _types(types)
    if enabled is True:
        values.update(enabled=True, failures=0, disabled_reason=None)
    elif enabled is False:
        values.update(enabled=False, disabled_reason=f"disabled by {actor.operator}")
    async with db.session() as session:
        reach = Reach(session)
        await reach.lock_channel(channel_id, party=actor.party)
        _own(await reach.webhook(webhook_id), actor, channel_id)
        if values:
            await reach.change(webhook_id, **values)
            await refresh_channel_webhooks(session, channel_id)
            await session.commit()
        stored = await reach.webhook(webhook_id)
    return webhook_out(_own(stored, actor, channel_id))


async def remove(
    db: Database,
    actor: Actor,
    channel_id: str,
    webhook_id: uuid.UUID,
    *,
    metrics: Metrics | None = None,
) -> None:
    """Remove a subscription; what was still waiting to be sent to it is given up.

    Its row stays, marked removed and without its secrets, so that its deliveries and
    their attempts stay in the party's delivery log; it is found nowhere else any more.
    The deliveries given up count in ``metrics``' ``deliveries_failed``, as those the
    worker gives up do.
    """
    await _admin_of(db, actor, channel_id)
    async with db.session() as session:
        reach = Reach(session)
        await reach.lock_channel(channel_id, party=actor.party)
        _own(await reach.webhook(webhook_id), actor, channel_id)
        await reach.remove(webhook_id)
        now = to_millisecond(db.clock.now())
        given_up = await reach.fail_waiting(str(webhook_id), error=SUBSCRIPTION_REMOVED, now=now)
        await refresh_channel_webhooks(session, channel_id)
        await session.commit()
    if metrics is not None and given_up:
        metrics.deliveries_failed.labels(kind="webhook").inc(given_up)
    log.info(
        "webhook removed",
        extra={"webhook": str(webhook_id), "channel": channel_id, "party": actor.party},
    )


async def rotate(
    db: Database,
    box: SecretBox,
    actor: Actor,
    channel_id: str,
    webhook_id: uuid.UUID,
    *,
    overlap: timedelta,
) -> schemas.RotatedSecret:
    """Give a subscription a new secret; the old one goes on signing for ``overlap``.

    A secret rotated out earlier and still in its overlap stops now: a call carries two
    signatures at most.

    Returns:
        The new secret, which is not shown again, and when the old one stops.
    """
    await _admin_of(db, actor, channel_id)
    secret = new_secret()
    async with db.session() as session:
        reach = Reach(session)
        await reach.lock_channel(channel_id, party=actor.party)
        current = _own(await reach.webhook(webhook_id), actor, channel_id)
        until = to_millisecond(db.clock.now() + overlap) if overlap > timedelta(0) else None
        await reach.change(
            webhook_id,
            secret=box.seal(secret, bound_to=str(webhook_id)),
            # Sealed for this same row, so it opens as the previous secret as it is.
            previous_secret=current.secret if until is not None else None,
            previous_until=until,
        )
        await session.commit()
    log.info("webhook secret rotated", extra={"webhook": str(webhook_id), "channel": channel_id})
    return schemas.RotatedSecret(secret=secret, previous_secret_until=until)


# -- the delivery log ---------------------------------------------------------------------


def _page(found: list[StoredDelivery], limit: int) -> schemas.DeliveryPage:
    items = found[:limit]
    more = len(found) > limit
    last = items[-1] if items else None
    return schemas.DeliveryPage(
        items=[_delivery_out(d) for d in items],
        next_before=encode_before(last.seq, last.id) if more and last is not None else None,
    )


async def deliveries_of(
    db: Database,
    actor: Actor,
    channel_id: str,
    webhook_id: uuid.UUID,
    *,
    limit: int = 50,
    before: str | None = None,
) -> schemas.DeliveryPage:
    """The calls made (or to make) to one subscription, newest event first, with every try;
    a subscription removed too."""
    await _admin_of(db, actor, channel_id)
    after = None if before is None else decode_before(before)
    async with db.session() as session:
        reach = Reach(session)
        _own(await reach.webhook(webhook_id), actor, channel_id, removed=True)
        found = await reach.deliveries(
            channel_id, targets=[str(webhook_id)], before=after, limit=limit + 1
        )
    return _page(found, limit)


async def channel_deliveries(
    db: Database,
    actor: Actor,
    channel_id: str,
    *,
    kind: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> schemas.DeliveryPage:
    """What a channel's events sent to the actor's party: calls to its subscriptions (those
    removed too) and mail to its operators (``operator:<id>``) or to all of them
    (``party:<id>``)."""
    await _admin_of(db, actor, channel_id)
    after = None if before is None else decode_before(before)
    async with db.session() as session:
        reach = Reach(session)
        targets: list[str] = []
        if kind in (None, "webhook"):
            ids = await reach.webhook_ids_of(channel_id, party=actor.party, removed=True)
            targets += [str(i) for i in ids]
        if kind in (None, "mail"):
            operators = await reach.operator_ids_of(actor.party)
            targets += [f"operator:{o}" for o in operators] + [f"party:{actor.party}"]
        found = await reach.deliveries(
            channel_id, targets=targets, kind=kind, before=after, limit=limit + 1
        )
    return _page(found, limit)
