"""Who each token belongs to, remembered while the access counter stands still.

Every REST request and every WebSocket ``hello`` needs the identity behind a token. Asking
the database each time costs a session and a three-table join (about 1 ms of CPU); the
answer changes only when a token, an operator or a party changes, and every such change
moves the access counter in its own transaction (migration 0005). So each process keeps
the identities it has looked up, tagged with the counter's value when it looked, and on
each request reads only the counter (``server/store/access_counter.py``). While it holds
the same value, nothing an identity is made of has changed since, in any process; once it
has moved, everything remembered is forgotten and looked up afresh. A revocation therefore
takes effect on the very next request, whichever process made it.

The memory is bounded, least recently used first out. Unknown and revoked tokens are
remembered apart, in a smaller space, so that a client trying made-up tokens can push out
only other made-up tokens, never an operator's. Only SHA-256 hashes are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, TypeVar

from server.store.access_counter import access_counter
from server.store.repository import Identity, Repository

if TYPE_CHECKING:
    from server.store.db import Database

__all__ = ["IdentityCache"]

T = TypeVar("T")

KNOWN = 10_000
"""Identities remembered: more live tokens than one deployment is expected to hold."""
UNKNOWN = 1_000
"""Hashes remembered as belonging to no live token."""


class _Recent(Generic[T]):
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str) -> T | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: T) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class IdentityCache:
    """Identities by token hash, trusted while the access counter holds one value.

    Cheap to create: the counter's connection opens on the first lookup.
    """

    def __init__(self, db: Database, *, known: int = KNOWN, unknown: int = UNKNOWN) -> None:
        self._db = db
        self._counter = access_counter(db.engine)
        self._seen_at: int | None = None
        """The counter's value when what is remembered was looked up."""
        self._known: _Recent[Identity] = _Recent(known)
        self._unknown: _Recent[bool] = _Recent(unknown)

    def __len__(self) -> int:
        """How many hashes are remembered, known and unknown."""
        return len(self._known) + len(self._unknown)

    async def identity(self, token_hash: str) -> Identity | None:
        """The operator whose live token has this hash, or ``None``.

        Reads the access counter; only when the hash is not remembered at its value does
        it look the token up in the database.
        """
        counter = await self._counter.read()
        if counter is None:  # cannot tell what changed: trust nothing remembered
            return await self._look_up(token_hash)
        if counter != self._seen_at:
            self._known.clear()
            self._unknown.clear()
            self._seen_at = counter
        else:
            remembered = self._known.get(token_hash)
            if remembered is not None:
                return remembered
            if self._unknown.get(token_hash):
                return None
        found = await self._look_up(token_hash)
        # The lookup began after the counter was read, so it saw at least that state. If
        # another request saw the counter move meanwhile, this answer may be older than
        # what is remembered now: return it, but do not keep it.
        if self._seen_at == counter:
            if found is None:
                self._unknown.put(token_hash, True)
            else:
                self._known.put(token_hash, found)
        return found

    async def _look_up(self, token_hash: str) -> Identity | None:
        async with self._db.session() as session:
            return await Repository(session).identity_for_token(token_hash)

    async def close(self) -> None:
        """Forget everything and close the counter's connection."""
        self._known.clear()
        self._unknown.clear()
        self._seen_at = None
        await self._counter.close()
