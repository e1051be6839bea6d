"""Bearer tokens: made at random, shown once, kept only as a hash, revocable.

A token is 256 random bits. Because it is that long and random, a plain SHA-256 of it is
enough to store: there is nothing to guess, so the slow password hashes (which exist to
protect short, human-chosen secrets) would only slow every request down.

REST checks the token on every request, so a revoked token is refused at once. A WebSocket
checks it once, at ``hello``; each server process therefore watches the database for
revocations (``revoked_since``, through a :class:`RevocationWindow`) and closes the
sockets of a revoked token. A token may be revoked by another process, such as
``hotline admin token revoke``, so the database is the only place to learn of it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from client.protocol.limits import MAX_NAME
from client.protocol.times import utc_now
from server.domain.errors import Invalid, NotFound
from server.store.db import Database
from server.store.directory import Directory, TokenInfo
from server.store.repository import Identity, Repository

__all__ = [
    "REVOCATION_OVERLAP",
    "TOKEN_PREFIX",
    "RevocationWindow",
    "authenticate",
    "hash_token",
    "issue_token",
    "list_tokens",
    "revoke",
    "revoked_since",
]

TOKEN_PREFIX = "hl_"  # noqa: S105 - a public prefix that lets secret scanners spot leaked tokens

REVOCATION_OVERLAP = timedelta(seconds=60)
"""How far back each look for revocations reaches before the last one it found.

A revocation is stamped by the clock of the process that revokes, before it commits: it can
become visible after a look that already saw later stamps. The margin covers that wait (up
to SQLite's 30 s busy timeout) and clocks a few seconds apart. Re-reading a token revoked
in the last minute costs a row, and its sockets are closed already.
"""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(db: Database, token: str) -> Identity | None:
    """The operator a live token belongs to, or ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    async with db.session() as session:
        return await Repository(session).identity_for_token(hash_token(token))


async def issue_token(db: Database, operator_id: str, *, label: str = "") -> tuple[uuid.UUID, str]:
    """Make a new token for an operator.

    Returns:
        The token's id and the token itself, which is not stored and cannot be shown again.

    Raises:
        NotFound: no such operator.
    """
    if len(label) > MAX_NAME or not label.isprintable():
        raise Invalid(f"a label is at most {MAX_NAME} printable characters", field="label")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.session() as session:
        directory = Directory(session)
        if await directory.operator_party(operator_id) is None:
            raise NotFound(f"no operator {operator_id}")
        token_id = directory.add_token(
            operator=operator_id, token_hash=hash_token(token), label=label, now=utc_now()
        )
        await session.commit()
    return token_id, token


async def revoke(
    db: Database, *, token_id: uuid.UUID | None = None, label: str | None = None
) -> int:
    """Revoke a token by id, or all live tokens with a label; returns how many.

    Raises:
        ValueError: neither was given (which would revoke every token there is).
    """
    if token_id is None and label is None:
        raise ValueError("name a token id or a label to revoke")
    async with db.session() as session:
        count = await Directory(session).revoke_tokens(
            now=utc_now(), token_id=token_id, label=label
        )
        await session.commit()
    return count


async def list_tokens(db: Database, operator_id: str | None = None) -> list[TokenInfo]:
    """Tokens (never their secrets), newest first."""
    async with db.session() as session:
        return await Directory(session).tokens(operator_id)


async def revoked_since(db: Database, since: datetime) -> dict[uuid.UUID, datetime]:
    """The ids of the tokens revoked at or after ``since``, with the time of each."""
    async with db.session() as session:
        return await Directory(session).revoked_since(since)


class RevocationWindow:
    """Where a process's next look for revoked tokens starts.

    The mark moves only with the ``revoked_at`` stamps found in the database, not with this
    process's clock, so that this clock running ahead of the revoker's skips nothing; each
    look reaches ``overlap`` before the mark, for revocations stamped a moment before they
    were committed. The mark never passes the time the look began, so that one stamp from
    a clock running ahead cannot hide the revocations that follow it.

    Args:
        start: where the first look starts: when the process began watching (it had no
            sockets before, so nothing revoked earlier matters to it).
        overlap: how far each look reaches back before the mark.
    """

    def __init__(self, start: datetime, *, overlap: timedelta = REVOCATION_OVERLAP) -> None:
        self.mark = start
        self.overlap = overlap

    @property
    def since(self) -> datetime:
        """The earliest ``revoked_at`` the next look must read."""
        return self.mark - self.overlap

    def advance(self, found: Iterable[datetime], *, looked_at: datetime) -> None:
        """Move the mark past a look's findings.

        Args:
            found: the ``revoked_at`` stamps the look read.
            looked_at: when the look began, by this process's clock.
        """
        self.mark = min(max([self.mark, *found]), looked_at)
