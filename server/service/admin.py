"""Setting up who talks to whom: parties, operators (and where their mail goes) and channels."""

from __future__ import annotations

import re

from client.protocol import limits
from client.protocol.times import to_millisecond
from client.protocol.vocabulary import Role
from server.domain.clock import Due, DueKind, tick_id
from server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from server.domain.model import Actor, Channel, Policy
from server.store.db import Database
from server.store.directory import Directory

__all__ = [
    "EMAIL_PATTERN",
    "ID_PATTERN",
    "MAX_EMAIL",
    "check_email",
    "create_channel",
    "create_operator",
    "create_party",
    "set_email",
]

ID_PATTERN = re.compile(limits.ID_PATTERN)
"""Ids of parties, operators and channels: short, lower-case, safe in a URL."""


EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
"""An e-mail address as HTML's ``<input type=email>`` accepts it (the WHATWG rule), with
RFC 5321's limit of 64 characters before the ``@``.

A deliberate simplification of RFC 5322: a local part of letters, digits and
``.!#$%&'*+/=?^_`{|}~-``, one ``@``, and a host name. No quoted local parts, comments,
spaces or non-ASCII letters, so an address can never break a mail header (no line breaks,
commas or angle brackets) and reads the same wherever it is shown.
"""
MAX_EMAIL = 254
"""The longest address SMTP can carry (RFC 5321: a path of 256 octets, with its ``<>``)."""


def check_email(address: str) -> str:
    """An operator's e-mail address, checked; surrounding white space is dropped.

    Raises:
        Invalid: not an address by :data:`EMAIL_PATTERN`, or longer than :data:`MAX_EMAIL`.
    """
    address = address.strip()
    if len(address) > MAX_EMAIL or not EMAIL_PATTERN.fullmatch(address):
        raise Invalid(
            f"not an e-mail address Hotline accepts: write name@example.org, at most "
            f"{MAX_EMAIL} characters, ASCII only, without spaces, quotes or a display name",
            field="email",
        )
    return address


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
    db: Database,
    operator_id: str,
    *,
    party: str,
    name: str,
    role: Role = Role.OPERATOR,
    email: str | None = None,
) -> None:
    """Add an operator to a party, with the address its mail goes to if one is given.

    Raises:
        Invalid: a malformed id, name or e-mail address.
        NotFound: no such party.
        Conflict: the id is taken.
    """
    _check_id("operator", operator_id)
    _check_name(name)
    if email is not None:
        email = check_email(email)
    async with db.session() as session:
        directory = Directory(session)
        if not await directory.party_exists(party):
            raise NotFound(f"no party {party}")
        if await directory.operator_party(operator_id) is not None:
            raise Conflict(f"operator {operator_id} exists already")
        directory.add_operator(
            operator_id, party=party, name=name, role=role, now=db.clock.now(), email=email
        )
        await session.commit()


async def set_email(
    db: Database, operator_id: str, email: str | None, *, by: Actor | None = None
) -> str | None:
    """Set the address an operator's mail goes to, or with ``None`` clear it (no more mail).

    An operator may set its own address, and an admin those of its party's operators. To
    anybody else an operator of another party does not exist, as its channels do not.

    Args:
        db: the database.
        operator_id: whose address.
        email: the address, or ``None`` to clear it.
        by: who asks; ``None`` for the server's own administrator (``hotline admin``).

    Returns:
        The address as stored, or ``None``.

    Raises:
        NotFound: no such operator, or one of another party than ``by``'s.
        Forbidden: ``by`` is of the operator's party but neither it nor an admin.
        Invalid: a malformed address (nothing is changed).
    """
    async with db.session() as session:
        directory = Directory(session)
        operator = await directory.operator(operator_id)
        if operator is None or (by is not None and by.party != operator.party):
            raise NotFound(f"no operator {operator_id}")
        if by is not None and by.operator != operator_id and by.role is not Role.ADMIN:
            raise Forbidden("only the operator itself or an admin of its party sets its address")
        if email is not None:
            email = check_email(email)
        await directory.set_email(operator_id, email)
        await session.commit()
    return email


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
