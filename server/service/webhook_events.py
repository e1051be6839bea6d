"""What a webhook's calls leave behind: deliveries given up counted, and, when they are too
many in a row, the subscription disabled with a ``webhook.disabled`` event in the
channel's log.

The sender (``server/service/webhook_sender.py``) reports here a call that goes through
after failures, and a delivery given up: its last try (``HOTLINE_DELIVERY_ATTEMPTS``)
failed, or it was refused for good. A failed try that will be tried again counts for
nothing: a receiver that is away for a few seconds while a burst of events goes out
fails many tries, and would otherwise be disabled for a hiccup, its waiting deliveries
given up with it. A call that goes through resets the count of deliveries given up in
a row; a delivery given up adds one. At ``HOTLINE_WEBHOOK_DISABLE_AFTER`` of them in a
row, or at once when the receiver answers ``410 Gone`` (it wants no more), the
subscription is disabled: its row says so and why, the deliveries still waiting for it
are given up (``failed``, "subscription disabled"), the channel's list of subscriptions
is rewritten under its lock, and the channel's log gets ``webhook.disabled``, appended
through the single writer like any event, with ``actor: null``: the server decided,
nobody said it.

The event's ``reason`` says what went wrong in a word or two (``HTTP 503``, ``timed
out``, ``connection refused``, ``address refused``): the channel's log is read by both
parties, and one party's receiver's addresses, host names and answers are none of the
other's business. The full error stays where only its party reads it: the row's
``disabled_reason`` and each try in the delivery log (``delivery_attempts``).

All of that is one command of the single writer, one transaction: the event cannot be
logged without the subscription being disabled, nor the other way round, whenever the
server stops. The writer reads the channel's enabled subscriptions under the channel's
lock, so two workers failing at once disable it, and log it, once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from client.protocol import schemas
from server.domain.events import WebhookDisabled
from server.store.db import Database
from server.store.ledger import Batch
from server.store.reach import Reach
from server.store.writer import Publisher

__all__ = [
    "SUBSCRIPTION_DISABLED",
    "SUBSCRIPTION_REMOVED",
    "DisabledOutcome",
    "disable",
    "disable_webhook",
    "record_failure",
    "record_success",
]

log = logging.getLogger(__name__)

SUBSCRIPTION_DISABLED = "subscription disabled"
"""``last_error`` of the deliveries given up because their subscription was disabled."""
SUBSCRIPTION_REMOVED = "subscription removed"
"""``last_error`` of the deliveries given up because their subscription was deleted."""


async def record_success(db: Database, webhook_id: uuid.UUID) -> None:
    """A call went through: the subscription's deliveries given up in a row start again
    from zero."""
    async with db.session() as session:
        await Reach(session).reset_failures(webhook_id)
        await session.commit()


async def record_failure(
    db: Database,
    webhook_id: uuid.UUID,
    *,
    error: str,
    kind: str,
    gone: bool,
    disable_after: int,
    publisher: Publisher | None,
) -> bool:
    """Count a delivery given up; disable the subscription once too many are in a row.

    Call it only for a delivery given up (its last try failed, or it was refused for
    good), not for a failed try that will be made again.

    Args:
        db: the database.
        webhook_id: the subscription called.
        error: why the delivery's last call failed, in full: the subscription's row keeps
            it, for its party.
        kind: the same in a word or two, naming no address or host and quoting nobody
            (``HTTP 503``, ``timed out``): what the channel's log says, for both parties.
        gone: the receiver answered ``410 Gone``: disable now, however few given up.
        disable_after: deliveries given up in a row that disable it.
        publisher: where ``webhook.disabled`` goes once committed.

    Returns:
        Whether the subscription is disabled now (by this call or another).
    """
    async with db.session() as session:
        failures = await Reach(session).count_failure(webhook_id)
        await session.commit()
    if failures is None:
        return True  # disabled (or removed) meanwhile
    if gone:
        reason = detail = "the receiver answered 410 Gone"
    elif failures >= disable_after:
        deliveries = "1 delivery" if failures == 1 else f"{failures} deliveries"
        reason = f"{deliveries} given up in a row; the last: {kind}"
        detail = f"{deliveries} given up in a row; the last: {error}"
    else:
        return False
    await disable(db, webhook_id, reason=reason, detail=detail, publisher=publisher)
    return True


async def disable(
    db: Database,
    webhook_id: uuid.UUID,
    *,
    reason: str,
    detail: str | None = None,
    publisher: Publisher | None,
) -> bool:
    """Disable an enabled subscription and log ``webhook.disabled`` on its channel.

    One command of the writer does both, in one transaction: the row disabled, the
    deliveries waiting for it given up, the channel's list of subscriptions without it,
    and the event. A server stopped at any moment leaves all of it or none.

    Args:
        db: the database.
        webhook_id: the subscription.
        reason: why, for the channel's log, which both parties read: no address, no
            host, nothing the receiver said.
        detail: why, in full, for the subscription's row, which only its party's admins
            read (and the server's log); ``reason`` if ``None``.
        publisher: where the event goes once committed (the fan-out).

    Returns:
        Whether this call disabled it (``False``: it was disabled already, or is gone).
    """
    async with db.session() as session:
        found = await Reach(session).webhook(webhook_id)
    if found is None or not found.enabled:
        return False
    outcome = await disable_webhook(
        db,
        channel_id=found.channel,
        webhook_id=webhook_id,
        party=found.party,
        failures=found.failures,
        reason=reason,
        detail=detail,
        publisher=publisher,
    )
    if not outcome.events:
        return False  # somebody else disabled it, and says so
    log.warning(
        "webhook disabled",
        extra={
            "webhook": str(webhook_id),
            "channel": found.channel,
            "party": found.party,
            "failures": found.failures,
            "reason": detail or reason,
        },
    )
    return True


@dataclass(frozen=True, slots=True)
class DisabledOutcome:
    """The ``webhook.disabled`` event appended, once committed (none: it was disabled)."""

    events: list[schemas.Event]
    root: bytes | None = None

    @property
    def roots(self) -> Mapping[str, bytes]:
        """The channel's root after the event."""
        if not self.events or self.root is None:
            return {}
        return {self.events[0].channel: self.root}


async def disable_webhook(
    db: Database,
    *,
    channel_id: str,
    webhook_id: uuid.UUID,
    party: str,
    failures: int,
    reason: str,
    detail: str | None = None,
    publisher: Publisher | None = None,
) -> DisabledOutcome:
    """Disable a subscription and log ``webhook.disabled``, through the writer: committed,
    then published. Nothing happens if it is not enabled any more.

    Args:
        db: the database.
        channel_id: the subscription's channel.
        webhook_id: the subscription.
        party: the party it belongs to.
        failures: its deliveries given up in a row.
        reason: why it was disabled, for people of both parties (the event): no address,
            no host, nothing the receiver said.
        detail: why, in full, for the subscription's party (its row); ``reason`` if
            ``None``.
        publisher: where the event goes once committed (the fan-out).
    """
    command = partial(
        _disabled_in,
        channel_id=channel_id,
        webhook_id=webhook_id,
        party=party,
        failures=failures,
        reason=reason,
        detail=reason if detail is None else detail,
    )
    return await db.writer.run(command, channel_id=channel_id, publisher=publisher)


def _disabled_in(
    batch: Batch,
    *,
    channel_id: str,
    webhook_id: uuid.UUID,
    party: str,
    failures: int,
    reason: str,
    detail: str,
) -> DisabledOutcome:
    channel = batch.channel(channel_id, party=None)
    # Read under the channel's lock, where every change to subscriptions takes turns.
    if not batch.disable_webhook(
        channel.id, str(webhook_id), reason=detail, error=SUBSCRIPTION_DISABLED
    ):
        return DisabledOutcome(events=[])
    event = WebhookDisabled(
        webhook_id=webhook_id, at=batch.now, subscriber=party, failures=failures, reason=reason
    )
    appended, root = batch.append(channel.id, [event])
    return DisabledOutcome(events=appended, root=root)
