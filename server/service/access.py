"""Bearer tokens: made at random, shown once, kept only as a hash, revocable.

A token is 256 random bits. Because it is that long and random, a plain SHA-256 of it is
enough to store: there is nothing to guess, so the slow password hashes (which exist to
protect short, human-chosen secrets) would only slow every request down.

REST checks the token on every request, so a revoked token is refused from the next
request on, whichever process revoked it. The check does not look the token up each time:
each process remembers who each token belongs to (``Database.identities``) and reads only
the access counter, one row that triggers move in the same transaction as any change to
tokens, operators or parties (migration 0005). While the counter holds the value it had
when a token was looked up, the remembered answer is the database's answer; once it
moves, the process forgets and looks up again. Reading the counter costs microseconds on
SQLite and one small round trip on PostgreSQL.

A WebSocket checks its token once, at ``hello``; each server process therefore asks the
database, every few seconds, which of the tokens its sockets use have been revoked
(``revoked_among``) and closes their sockets. A token may be revoked by another process,
such as ``hotline admin token revoke``, so the database is the only place to learn of it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Collection

from client.protocol.limits import MAX_NAME
from client.protocol.times import utc_now
from server.domain.errors import Invalid, NotFound
from server.store.db import Database
from server.store.directory import Directory, TokenInfo
from server.store.repository import Identity

__all__ = [
    "REVOKED_LOOKUP_CHUNK",
    "TOKEN_PREFIX",
    "authenticate",
    "hash_token",
    "issue_token",
    "list_tokens",
    "revoke",
    "revoked_among",
]

TOKEN_PREFIX = "hl_"  # noqa: S105 - a public prefix that lets secret scanners spot leaked tokens


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(db: Database, token: str) -> Identity | None:
    """The operator a live token belongs to, or ``None``.

    Answers from what this process remembers unless the access counter has moved since,
    so a token revoked anywhere is refused from the next call on.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return await db.identities.identity(hash_token(token))


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


REVOKED_LOOKUP_CHUNK = 500
"""Token ids asked about per query: far below any database's limit on bound parameters."""


async def revoked_among(db: Database, token_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``token_ids`` that have been revoked, asked in chunks by primary key."""
    ids = list(token_ids)
    revoked: set[uuid.UUID] = set()
    async with db.session() as session:
        directory = Directory(session)
        for start in range(0, len(ids), REVOKED_LOOKUP_CHUNK):
            revoked |= await directory.revoked_among(ids[start : start + REVOKED_LOOKUP_CHUNK])
    return revoked
