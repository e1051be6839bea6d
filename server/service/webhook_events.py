"""What a webhook's calls leave behind: failures counted, and, when they are too many, the
subscription disabled with a ``webhook.disabled`` event in the channel's log.

The sender (``server/service/webhook_sender.py``) reports each call here. A call that
goes through resets the subscription's failures in a row; one that fails adds one. At
``HOTLINE_WEBHOOK_DISABLE_AFTER`` failures in a row, or at once when the receiver answers
``410 Gone`` (it wants no more), the subscription is disabled: its row says so and why,
the deliveries still waiting for it are given up (``failed``, "subscription disabled"),
the channel's list of subscriptions is rewritten under its lock, and the channel's log
gets ``webhook.disabled``, appended through the single writer like any event, with
``actor: null``: the server decided, nobody said it.

Those are two transactions, the row's and then the writer's: the log cannot be written
from outside the writer. The row goes first, so the event is never logged for a
subscription still called; a server stopped between the two leaves the subscription
disabled without the event (its row still says why). Only the caller whose ``UPDATE``
disabled the row logs the event, so two workers failing at once log it once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from client.protocol import schemas
from client.protocol.times import to_millisecond
from server.domain.events import WebhookDisabled
from server.store.db import Database
from server.store.ledger import Batch
from server.store.reach import Reach, refresh_channel_webhooks
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
    """A call went through: the subscription's failures in a row start again from zero."""
    async with db.session() as session:
        await Reach(session).reset_failures(webhook_id)
        await session.commit()


async def record_failure(
    db: Database,
    webhook_id: uuid.UUID,
    *,
    error: str,
    gone: bool,
    disable_after: int,
    publisher: Publisher | None,
) -> bool:
    """Count a failed call; disable the subscription once they are too many in a row.

    Args:
        db: the database.
        webhook_id: the subscription called.
        error: why the call failed.
        gone: the receiver answered ``410 Gone``: disable now, however few the failures.
        disable_after: failures in a row that disable it.
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
        reason = "the receiver answered 410 Gone"
    elif failures >= disable_after:
        reason = f"{failures} failed calls in a row; the last: {error}"
    else:
        return False
    await disable(db, webhook_id, reason=reason, publisher=publisher)
    return True


async def disable(
    db: Database, webhook_id: uuid.UUID, *, reason: str, publisher: Publisher | None
) -> bool:
    """Disable an enabled subscription and log ``webhook.disabled`` on its channel.

    Returns:
        Whether this call disabled it (``False``: it was disabled already, or is gone).
    """
    async with db.session() as session:
        reach = Reach(session)
        found = await reach.webhook(webhook_id)
        if found is None:
            return False
        await reach.lock_channel(found.channel, party=None)
        failures = await reach.disable(webhook_id, reason=reason)
        if failures is None:
            return False  # somebody else disabled it, and says so
        now = to_millisecond(db.clock.now())
        await reach.fail_waiting(str(webhook_id), error=SUBSCRIPTION_DISABLED, now=now)
        await refresh_channel_webhooks(session, found.channel)
        await session.commit()
    log.warning(
        "webhook disabled",
        extra={
            "webhook": str(webhook_id),
            "channel": found.channel,
            "party": found.party,
            "failures": failures,
            "reason": reason,
        },
    )
    await disable_webhook(
        db,
        channel_id=found.channel,
        webhook_id=webhook_id,
        party=found.party,
        failures=failures,
        reason=reason,
        publisher=publisher,
    )
    return True


@dataclass(frozen=True, slots=True)
class DisabledOutcome:
    """The ``webhook.disabled`` event appended, once committed."""

    events: list[schemas.Event]
    root: bytes

    @property
    def roots(self) -> Mapping[str, bytes]:
        """The channel's root after the event."""
        return {self.events[0].channel: self.root}


async def disable_webhook(
    db: Database,
    *,
    channel_id: str,
    webhook_id: uuid.UUID,
    party: str,
    failures: int,
    reason: str,
    publisher: Publisher | None = None,
) -> DisabledOutcome:
    """Log ``webhook.disabled`` on a channel, through the writer: committed, then published.

    Args:
        db: the database.
        channel_id: the subscription's channel.
        webhook_id: the subscription.
        party: the party it belongs to.
        failures: its failed calls in a row.
        reason: why it was disabled, for people.
        publisher: where the event goes once committed (the fan-out).
    """
    command = partial(
        _disabled_in,
        channel_id=channel_id,
        webhook_id=webhook_id,
        party=party,
        failures=failures,
        reason=reason,
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
) -> DisabledOutcome:
    channel = batch.channel(channel_id, party=None)
    event = WebhookDisabled(
        webhook_id=webhook_id, at=batch.now, subscriber=party, failures=failures, reason=reason
    )
    appended, root = batch.append(channel.id, [event])
    return DisabledOutcome(events=appended, root=root)
