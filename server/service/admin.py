"""Setting up who talks to whom: parties, operators and channels."""

from __future__ import annotations

import re

from client.protocol import limits
from client.protocol.times import to_millisecond
from client.protocol.vocabulary import Role
from server.domain.clock import Due, DueKind, tick_id
from server.domain.errors import Conflict, Invalid, NotFound
from server.domain.model import Channel, Policy
from server.store.db import Database
from server.store.directory import Directory

__all__ = ["ID_PATTERN", "create_channel", "create_operator", "create_party"]

ID_PATTERN = re.compile(limits.ID_PATTERN)
"""Ids of parties, operators and channels: short, lower-case, safe in a URL."""


def _check_id(kind: str, value: str) -> None:
    if not ID_PATTERN.fullmatch(value):
        raise Invalid(
            f"{kind} id {value!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'",
            field="id",
        )


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > limits.MAX_NAME:
        raise Invalid(f"name must be 1 to {limits.MAX_NAME} characters", field="name")
    try:
        limits.check_line(name)
    except ValueError as exc:
        raise Invalid(f"name {exc}", field="name") from None


async def create_party(db: Database, party_id: str, *, name: str) -> None:
    """Add a party.

    Raises:
        Invalid: a malformed id or name.
        Conflict: the id is taken.
    """
    _check_id("party", party_id)
    _check_name(name)
    async with db.session() as session:
        directory = Directory(session)
        if await directory.party_exists(party_id):
            raise Conflict(f"party {party_id} exists already")
        directory.add_party(party_id, name, now=db.clock.now())
        await session.commit()


async def create_operator(
    db: Database, operator_id: str, *, party: str, name: str, role: Role = Role.OPERATOR
) -> None:
    """Add an operator to a party.

    Raises:
        Invalid: a malformed id or name.
        NotFound: no such party.
        Conflict: the id is taken.
    """
    _check_id("operator", operator_id)
    _check_name(name)
    async with db.session() as session:
        directory = Directory(session)
        if not await directory.party_exists(party):
            raise NotFound(f"no party {party}")
        if await directory.operator_party(operator_id) is not None:
            raise Conflict(f"operator {operator_id} exists already")
        directory.add_operator(operator_id, party=party, name=name, role=role, now=db.clock.now())
        await session.commit()


async def create_channel(
    db: Database, channel_id: str, *, parties: tuple[str, str], policy: Policy | None = None
) -> None:
    """Add a channel between two different parties, with an empty log.

    A policy with liveness checks asks the first one ``checks.every`` from now.

    Raises:
        Invalid: a malformed id, or the same party twice.
        NotFound: no such party.
        Conflict: the id is taken.
    """
    _check_id("channel", channel_id)
    if parties[0] == parties[1]:
        raise Invalid("a channel joins two different parties", field="parties")
    async with db.session() as session:
        directory = Directory(session)
        for party in parties:
            if not await directory.party_exists(party):
                raise NotFound(f"no party {party}")
        if await directory.channel_exists(channel_id):
            raise Conflict(f"channel {channel_id} exists already")
        policy = policy or Policy()
        now = db.clock.now()
        directory.add_channel(channel_id, parties, policy, now=now)
        if policy.checks is not None:
            # The first liveness check; each check schedules the next when it fires.
            channel = Channel(channel_id, parties, policy)
            first = to_millisecond(now + policy.checks.every)
            directory.add_due(Due(DueKind.REQUEST_CHECKS, channel_id, tick_id(channel), first))
        await session.commit()
