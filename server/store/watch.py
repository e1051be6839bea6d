"""What a channel watches over, read for one session: its policy, its checks, its conflicts.

And who its parties' operators are, whom a proposed policy may name on duty.

The writer keeps these tables (``checks`` and ``conflicts``, folded from their events, and
the policy columns of ``channels``); services read them here, scoped to a party's channel
by the caller, and turn the rows into domain values on the way out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from client.protocol.vocabulary import EventType
from server.domain.model import Channel, Check
from server.store.clockwork import check_of_row
from server.store.models import ChannelRow, CheckRow, ConflictRow, EventRow, OperatorRow
from server.store.plans import ConflictRecord, conflict_of_row
from server.store.repository import channel_of_row

__all__ = ["Watch"]

_CHANNEL = select(ChannelRow).where(
    ChannelRow.id == bindparam("channel"),
    or_(ChannelRow.party_a == bindparam("party"), ChannelRow.party_b == bindparam("party")),
)
# The partial index ix_events_policy holds these events only: one step, however long the log.
_POLICY_SINCE = (
    select(EventRow.seq)
    .where(
        EventRow.channel_id == bindparam("channel"),
        EventRow.type == EventType.CHANNEL_POLICY_CHANGED.value,
    )
    .order_by(EventRow.seq.desc())
    .limit(1)
)

_PROPOSALS = select(EventRow.data).where(
    EventRow.channel_id == bindparam("channel"),
    EventRow.type == EventType.CHANNEL_POLICY_PROPOSED.value,
)


def _columns(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


class Watch:
    """Reads of a channel's policy, checks and conflicts; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def channel(self, channel_id: str, *, party: str) -> Channel | None:
        """The channel, with its policy and proposal, if ``party`` is one of its two."""
        params = {"channel": channel_id, "party": party}
        row = (await self.session.execute(_CHANNEL, params)).scalar_one_or_none()
        return None if row is None else channel_of_row(row)

    async def policy_since(self, channel_id: str) -> int | None:
        """The sequence number of the ``channel.policy_changed`` of the policy in force."""
        seq: int | None = await self.session.scalar(_POLICY_SINCE, {"channel": channel_id})
        return seq

    async def proposal_made(self, channel_id: str, proposal_id: UUID) -> bool:
        """Whether the channel's log holds a ``channel.policy_proposed`` under this id."""
        wanted = str(proposal_id)
        found = await self.session.scalars(_PROPOSALS, {"channel": channel_id})
        return any(json.loads(data).get("proposal") == wanted for data in found)

    async def operators(self, channel_id: str) -> dict[str, set[str]]:
        """The operators of the channel's two parties, by party (a party with none: absent)."""
        operators, channels = OperatorRow.__table__.c, ChannelRow.__table__.c
        of_channel = or_(
            channels.party_a == operators.party_id, channels.party_b == operators.party_id
        )
        stmt = (
            select(operators.party_id, operators.id)
            .join(ChannelRow.__table__, of_channel)
            .where(channels.id == channel_id)
        )
        found: dict[str, set[str]] = {}
        for party, operator in await self.session.execute(stmt):
            found.setdefault(party, set()).add(operator)
        return found

    async def checks(
        self, channel_id: str, *, party: str | None, before_seq: int | None, limit: int
    ) -> list[tuple[Check, int]]:
        """A channel's checks, newest first, each with its ``check.requested`` sequence number."""
        table = CheckRow.__table__
        stmt = select(table).where(table.c.channel_id == channel_id)
        if party is not None:
            stmt = stmt.where(table.c.party == party)
        if before_seq is not None:
            stmt = stmt.where(table.c.requested_seq < before_seq)
        stmt = stmt.order_by(table.c.requested_seq.desc()).limit(limit)
        rows = [_columns(row) for row in await self.session.execute(stmt)]
        return [(check_of_row(row), row["requested_seq"]) for row in rows]

    async def checks_requested(
        self, channel_id: str, since: datetime, until: datetime
    ) -> list[Check]:
        """The checks requested in ``[since, until)``, oldest first."""
        table = CheckRow.__table__
        stmt = (
            select(table)
            .where(
                table.c.channel_id == channel_id,
                table.c.requested_at >= since,
                table.c.requested_at < until,
            )
            .order_by(table.c.requested_at)
        )
        return [check_of_row(_columns(row)) for row in await self.session.execute(stmt)]

    async def conflicts(
        self, channel_id: str, *, resolved: bool | None, limit: int
    ) -> list[ConflictRecord]:
        """A channel's conflicts, newest first: open ones, resolved ones, or all (``None``)."""
        table = ConflictRow.__table__
        stmt = select(table).where(table.c.channel_id == channel_id)
        if resolved is True:
            stmt = stmt.where(table.c.resolved_at.is_not(None))
        elif resolved is False:
            stmt = stmt.where(table.c.resolved_at.is_(None))
        stmt = stmt.order_by(table.c.detected_seq.desc()).limit(limit)
        return [conflict_of_row(_columns(row)) for row in await self.session.execute(stmt)]
