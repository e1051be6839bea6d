"""Who a channel reaches outside its sockets: webhook subscriptions, and what was sent them.

``webhooks`` holds each party's subscriptions; ``channels.webhooks`` holds, as JSON, the
enabled ones of each channel (``[{"id", "party", "types"}]``, sorted by id), so that the
single writer knows where each event goes without a query of its own: it reads that
column with the channel's lock, in the batch that appends the event
(``server/store/ledger.py``). The column must therefore change in the *same
transaction* as the rows, and *under the same lock*: every change here first locks the
channel's row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite a write transaction
excludes every other writer anyway), changes the rows, and calls
:func:`refresh_channel_webhooks`. An event committed before such a change goes to the
subscriptions as they were, one committed after to the subscriptions as they are:
never to a mix.

``deliveries`` and ``delivery_attempts`` (the outbox, written by the writer and the
delivery worker) are only read here, for the delivery log of the API, and changed in one
way: a subscription that is disabled or removed fails the deliveries still waiting for it.

A subscription removed keeps its row, disabled, with ``disabled_reason`` :data:`REMOVED`
and its secrets dropped: its deliveries name it (``deliveries.target``), and its party
may still read them, although the subscription itself is gone from every list and every
change (``server/service/webhooks.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.store.models import (
    ChannelRow,
    DeliveryAttemptRow,
    DeliveryRow,
    OperatorRow,
    WebhookRow,
)

__all__ = [
    "REMOVED",
    "Reach",
    "StoredAttempt",
    "StoredDelivery",
    "StoredWebhook",
    "refresh_channel_webhooks",
    "targets_json",
]

_WEBHOOKS = WebhookRow.__table__
_DELIVERIES = DeliveryRow.__table__
_NO_SYNC = {"synchronize_session": False}  # rows changed by statement, none held in the session

REMOVED = "removed"
"""``disabled_reason`` of a subscription removed (no other reason is this one word)."""
_NOT_REMOVED = or_(_WEBHOOKS.c.disabled_reason.is_(None), _WEBHOOKS.c.disabled_reason != REMOVED)


@dataclass(frozen=True, slots=True)
class StoredWebhook:
    """A row of ``webhooks``; its secrets still sealed (``server/secrets.py``)."""

    id: uuid.UUID
    channel: str
    party: str
    url: str
    types: tuple[str, ...]
    secret: str
    previous_secret: str | None
    previous_until: datetime | None
    enabled: bool
    failures: int
    disabled_reason: str | None
    created_at: datetime
    created_by: str

    def __repr__(self) -> str:  # sealed, but still nothing for a log line
        return f"StoredWebhook(id={self.id!s}, channel={self.channel!r}, party={self.party!r})"

    @property
    def removed(self) -> bool:
        """Removed by its party: kept only for the deliveries that name it."""
        return not self.enabled and self.disabled_reason == REMOVED


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    """A row of ``delivery_attempts``."""

    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A row of ``deliveries`` with its attempts, oldest first."""

    id: uuid.UUID
    kind: str
    channel: str
    seq: int
    event_type: str
    target: str
    status: str
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    attempts: list[StoredAttempt]


def _webhook(row: WebhookRow) -> StoredWebhook:
    return StoredWebhook(
        id=row.id,
        channel=row.channel_id,
        party=row.party,
        url=row.url,
        types=tuple(json.loads(row.types)),
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_until=row.previous_until,
        enabled=row.enabled,
        failures=row.failures,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def targets_json(rows: Sequence[tuple[uuid.UUID, str, Sequence[str]]]) -> str:
    """``channels.webhooks`` for the enabled subscriptions ``(id, party, types)``, by id."""
    targets = sorted(
        ({"id": str(i), "party": party, "types": list(types)} for i, party, types in rows),
        key=lambda target: str(target["id"]),
    )
    return json.dumps(targets, separators=(",", ":"), sort_keys=True)


async def refresh_channel_webhooks(session: AsyncSession, channel_id: str) -> None:
    """Rewrite ``channels.webhooks`` from the channel's enabled ``webhooks`` rows.

    Call it in the transaction that changed the rows, before its commit. It locks the
    channel's row first if the caller did not (the lock is the one the writer takes to
    append, so the two take turns).
    """
    await _lock(session, channel_id)
    stmt = select(_WEBHOOKS.c.id, _WEBHOOKS.c.party, _WEBHOOKS.c.types).where(
        _WEBHOOKS.c.channel_id == channel_id, _WEBHOOKS.c.enabled.is_(True)
    )
    rows = [(i, party, json.loads(types)) for i, party, types in await session.execute(stmt)]
    await session.execute(
        update(ChannelRow).where(ChannelRow.id == channel_id).values(webhooks=targets_json(rows)),
        execution_options=_NO_SYNC,
    )


async def _lock(session: AsyncSession, channel_id: str, party: str | None = None) -> bool:
    stmt = select(ChannelRow.id).where(ChannelRow.id == channel_id)
    if party is not None:
        stmt = stmt.where(or_(ChannelRow.party_a == party, ChannelRow.party_b == party))
    # SQLAlchemy leaves FOR UPDATE out on SQLite, which has no row locks to take.
    return (await session.scalar(stmt.with_for_update())) is not None


class Reach:
    """Reads and writes of subscriptions and the delivery log; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- subscriptions -------------------------------------------------------------------

    async def lock_channel(self, channel_id: str, *, party: str | None) -> bool:
        """Lock a channel's row for a change to its subscriptions; whether it was found.

        Args:
            channel_id: the channel.
            party: only find it if this party is one of its two; ``None`` for the server.
        """
        return await _lock(self.session, channel_id, party)

    async def channel_visible(self, channel_id: str, *, party: str) -> bool:
        """Whether the channel exists and ``party`` is one of its two (no lock)."""
        stmt = select(ChannelRow.id).where(
            ChannelRow.id == channel_id,
            or_(ChannelRow.party_a == party, ChannelRow.party_b == party),
        )
        return (await self.session.scalar(stmt)) is not None

    async def webhook(self, webhook_id: uuid.UUID) -> StoredWebhook | None:
        """A subscription by id, in any channel."""
        row = await self.session.get(WebhookRow, webhook_id, populate_existing=True)
        return None if row is None else _webhook(row)

    async def webhooks_of(self, channel_id: str, *, party: str) -> list[StoredWebhook]:
        """A party's subscriptions on a channel, oldest first; not those removed."""
        stmt = (
            select(WebhookRow)
            .where(WebhookRow.channel_id == channel_id, WebhookRow.party == party, _NOT_REMOVED)
            .order_by(WebhookRow.created_at, WebhookRow.id)
        )
        return [_webhook(row) for row in (await self.session.scalars(stmt)).all()]

    async def webhook_ids_of(
        self, channel_id: str, *, party: str, removed: bool = False
    ) -> list[uuid.UUID]:
        """The ids of a party's subscriptions on a channel; those removed too if ``removed``."""
        stmt = select(_WEBHOOKS.c.id).where(
            _WEBHOOKS.c.channel_id == channel_id, _WEBHOOKS.c.party == party
        )
        if not removed:
            stmt = stmt.where(_NOT_REMOVED)
        return list((await self.session.scalars(stmt)).all())

    async def add(
        self,
        webhook_id: uuid.UUID,
        *,
        channel_id: str,
        party: str,
        url: str,
        types: Sequence[str],
        secret: str,
        created_by: str,
        now: datetime,
    ) -> None:
        """Add an enabled subscription; ``secret`` is sealed already."""
        await self.session.execute(
            insert(WebhookRow).values(
                id=webhook_id,
                channel_id=channel_id,
                party=party,
                url=url,
                types=json.dumps(list(types)),
                secret=secret,
                enabled=True,
                failures=0,
                created_at=now,
                created_by=created_by,
            )
        )

    async def change(self, webhook_id: uuid.UUID, **values: Any) -> None:
        """Set columns of a subscription (``types`` as a list; secrets sealed already)."""
        if "types" in values:
            values["types"] = json.dumps(list(values["types"]))
        await self.session.execute(
            update(WebhookRow).where(_WEBHOOKS.c.id == webhook_id).values(**values),
            execution_options=_NO_SYNC,
        )

    async def remove(self, webhook_id: uuid.UUID) -> None:
        """Remove a subscription: disabled for good, marked :data:`REMOVED`, its secrets
        dropped. The row stays for its deliveries and their attempts, which name it."""
        stmt = (
            update(WebhookRow)
            .where(_WEBHOOKS.c.id == webhook_id)
            .values(
                enabled=False,
                disabled_reason=REMOVED,
                failures=0,
                secret="",
                previous_secret=None,
                previous_until=None,
            )
        )
        await self.session.execute(stmt, execution_options=_NO_SYNC)

    async def count_failure(self, webhook_id: uuid.UUID) -> int | None:
        """Add one to an enabled subscription's deliveries given up in a row; the new count.

        Returns ``None`` if it is disabled or gone. One statement, so that deliveries
        given up at once in several workers each count.
        """
        stmt = (
            update(WebhookRow)
            .where(_WEBHOOKS.c.id == webhook_id, _WEBHOOKS.c.enabled.is_(True))
            .values(failures=_WEBHOOKS.c.failures + 1)
            .returning(_WEBHOOKS.c.failures)
        )
        result = await self.session.execute(stmt, execution_options=_NO_SYNC)
        found: int | None = result.scalar_one_or_none()
        return found

    async def reset_failures(self, webhook_id: uuid.UUID) -> None:
        """A call went through: the deliveries given up in a row start again from zero."""
        await self.session.execute(
            update(WebhookRow)
            .where(_WEBHOOKS.c.id == webhook_id, _WEBHOOKS.c.failures != 0)
            .values(failures=0),
            execution_options=_NO_SYNC,
        )

    async def disable(self, webhook_id: uuid.UUID, *, reason: str) -> int | None:
        """Disable an enabled subscription; its failures in a row, or ``None`` if it was
        disabled already (or is gone): then somebody else did it, and says so."""
        stmt = (
            update(WebhookRow)
            .where(_WEBHOOKS.c.id == webhook_id, _WEBHOOKS.c.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason)
            .returning(_WEBHOOKS.c.failures)
        )
        result = await self.session.execute(stmt, execution_options=_NO_SYNC)
        found: int | None = result.scalar_one_or_none()
        return found

    async def fail_waiting(self, target: str, *, error: str, now: datetime) -> int:
        """Give up the deliveries still waiting for ``target``; how many there were."""
        stmt = (
            update(DeliveryRow)
            .where(_DELIVERIES.c.target == target, _DELIVERIES.c.status == "waiting")
            .values(status="failed", last_error=error, finished_at=now, leased_until=None)
        )
        result = await self.session.execute(stmt, execution_options=_NO_SYNC)
        return int(getattr(result, "rowcount", 0) or 0)

    # -- the delivery log ----------------------------------------------------------------

    async def operator_ids_of(self, party: str) -> list[str]:
        """The ids of a party's operators (for the mail sent to them)."""
        stmt = select(OperatorRow.id).where(OperatorRow.party_id == party)
        return list((await self.session.scalars(stmt)).all())

    async def deliveries(
        self,
        channel_id: str,
        *,
        targets: Collection[str],
        kind: str | None = None,
        before: tuple[int, uuid.UUID] | None = None,
        limit: int,
    ) -> list[StoredDelivery]:
        """A channel's deliveries to ``targets``, newest event first, with their attempts.

        Args:
            channel_id: the channel.
            targets: webhook ids (as text), ``operator:<id>`` or ``party:<id>``.
            kind: only ``webhook`` or only ``mail`` deliveries.
            before: only those before ``(seq, id)`` in this order (the page before).
            limit: at most this many.
        """
        if not targets:
            return []
        d = _DELIVERIES.c
        stmt = select(_DELIVERIES).where(d.channel_id == channel_id, d.target.in_(targets))
        if kind is not None:
            stmt = stmt.where(d.kind == kind)
        if before is not None:
            seq, last = before
            stmt = stmt.where(or_(d.seq < seq, and_(d.seq == seq, d.id < last)))
        rows = (
            await self.session.execute(stmt.order_by(d.seq.desc(), d.id.desc()).limit(limit))
        ).all()
        tries = await self._attempts([row.id for row in rows])
        return [
            StoredDelivery(
                id=row.id,
                kind=row.kind,
                channel=row.channel_id,
                seq=row.seq,
                event_type=row.event_type,
                target=row.target,
                status=row.status,
                next_attempt_at=row.next_attempt_at,
                created_at=row.created_at,
                finished_at=row.finished_at,
                last_error=row.last_error,
                attempts=tries.get(row.id, []),
            )
            for row in rows
        ]

    async def _attempts(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[StoredAttempt]]:
        if not ids:
            return {}
        a = DeliveryAttemptRow.__table__.c
        stmt = select(a.delivery_id, a.at, a.ok, a.status_code, a.error, a.duration_ms)
        found: dict[uuid.UUID, list[StoredAttempt]] = {}
        for row in await self.session.execute(stmt.where(a.delivery_id.in_(ids)).order_by(a.id)):
            found.setdefault(row.delivery_id, []).append(StoredAttempt(*row[1:]))
        return found
