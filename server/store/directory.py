"""Who is who: parties, operators, channels and tokens (the admin's side of the store)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from client.protocol.vocabulary import Role
from server.domain.clock import Due
from server.domain.model import Policy
from server.store.clockwork import due_row
from server.store.models import ChannelRow, DueActionRow, OperatorRow, PartyRow, TokenRow
from server.store.repository import policy_to_json

__all__ = ["Directory", "OperatorInfo", "TokenInfo"]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token's bookkeeping; the token itself is never stored."""

    id: uuid.UUID
    operator: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    """An operator as mail needs it: who, for which party, in which role, at which address."""

    id: str
    party: str
    name: str
    role: Role
    email: str | None


def _operator_info(row: OperatorRow) -> OperatorInfo:
    return OperatorInfo(row.id, row.party_id, row.name, Role(row.role), row.email)


class Directory:
    """Reads and writes of the directory for one session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def party_exists(self, party_id: str) -> bool:
        """Whether a party with this id exists."""
        return await self.session.get(PartyRow, party_id) is not None

    async def operator_party(self, operator_id: str) -> str | None:
        """The party of an operator, or ``None`` if there is no such operator."""
        row = await self.session.get(OperatorRow, operator_id)
        return None if row is None else row.party_id

    async def operator(self, operator_id: str) -> OperatorInfo | None:
        """An operator, or ``None`` if there is no such operator."""
        row = await self.session.get(OperatorRow, operator_id)
        return None if row is None else _operator_info(row)

    async def operators_of(self, party: str, *, role: Role | None = None) -> list[OperatorInfo]:
        """A party's operators (only those in ``role``, if given), by id."""
        stmt = select(OperatorRow).where(OperatorRow.party_id == party)
        if role is not None:
            stmt = stmt.where(OperatorRow.role == role.value)
        rows = await self.session.scalars(stmt.order_by(OperatorRow.id))
        return [_operator_info(row) for row in rows.all()]

    async def set_email(self, operator_id: str, email: str | None) -> bool:
        """Set (or, with ``None``, clear) an operator's address; whether the operator exists."""
        stmt = update(OperatorRow).where(OperatorRow.id == operator_id).values(email=email)
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def party_names(self, party_ids: Collection[str]) -> dict[str, str]:
        """The display names of parties, by id (unknown ids are left out)."""
        stmt = select(PartyRow.id, PartyRow.name).where(PartyRow.id.in_(party_ids))
        return {party_id: name for party_id, name in (await self.session.execute(stmt)).all()}

    async def channel_exists(self, channel_id: str) -> bool:
        """Whether a channel with this id exists."""
        return await self.session.get(ChannelRow, channel_id) is not None

    def add_party(self, party_id: str, name: str, *, now: datetime) -> None:
        """Add a party."""
        self.session.add(PartyRow(id=party_id, name=name, created_at=now))

    def add_operator(
        self,
        operator_id: str,
        *,
        party: str,
        name: str,
        role: Role,
        now: datetime,
        email: str | None = None,
    ) -> None:
        """Add an operator to a party."""
        self.session.add(
            OperatorRow(
                id=operator_id,
                party_id=party,
                name=name,
                role=role.value,
                created_at=now,
                email=email,
            )
        )

    def add_channel(
        self, channel_id: str, parties: tuple[str, str], policy: Policy, *, now: datetime
    ) -> None:
        """Add a channel between two parties, with an empty log."""
        self.session.add(
            ChannelRow(
                id=channel_id,
                party_a=parties[0],
                party_b=parties[1],
                policy=policy_to_json(policy),
                head_seq=0,
                created_at=now,
            )
        )

    def add_due(self, due: Due) -> None:
        """Add a due action (a new channel's first liveness check)."""
        self.session.add(DueActionRow(**due_row(due)))

    def add_token(self, *, operator: str, token_hash: str, label: str, now: datetime) -> uuid.UUID:
        """Record a token's hash; returns the token's id (for listing and revoking)."""
        token_id = uuid.uuid4()
        self.session.add(
            TokenRow(
                id=token_id,
                operator_id=operator,
                token_hash=token_hash,
                label=label,
                created_at=now,
            )
        )
        return token_id

    async def revoke_tokens(
        self, *, now: datetime, token_id: uuid.UUID | None = None, label: str | None = None
    ) -> int:
        """Revoke one token by id, or every live token with a label; returns how many."""
        stmt = update(TokenRow).where(TokenRow.revoked_at.is_(None)).values(revoked_at=now)
        if token_id is not None:
            stmt = stmt.where(TokenRow.id == token_id)
        if label is not None:
            stmt = stmt.where(TokenRow.label == label)
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0))

    async def revoked_among(self, token_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``token_ids`` that have been revoked (primary-key lookups)."""
        stmt = select(TokenRow.id).where(
            TokenRow.id.in_(token_ids), TokenRow.revoked_at.is_not(None)
        )
        return set((await self.session.scalars(stmt)).all())

    async def tokens(self, operator_id: str | None = None) -> list[TokenInfo]:
        """Tokens, newest first, of one operator or of all."""
        stmt = select(TokenRow).order_by(TokenRow.created_at.desc())
        if operator_id is not None:
            stmt = stmt.where(TokenRow.operator_id == operator_id)
        return [
            TokenInfo(row.id, row.operator_id, row.label, row.created_at, row.revoked_at)
            for row in (await self.session.scalars(stmt)).all()
        ]
