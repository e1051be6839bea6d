"""Each channel's Merkle tree in the database: O(log n) to grow, O(log n) to prove.

The tree is kept as its complete perfect subtrees (``log_nodes``), which never change once
written. The pure code in ``client/protocol/merkle.py`` says which of them any root or
proof is folded from; this module fetches exactly those, in one query, and hands them
over. Nothing here walks the log.

How the one query is found: :class:`~client.protocol.merkle.Tree` looks subtrees up
through a callable, and which ones it asks for depends only on the sizes and indexes
involved, never on the hashes. So a first, dry run with a callable that only writes down
the keys it is asked for says what to fetch; the real run then reads from what came back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy import Row, Select, and_, bindparam, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from client.protocol.log import CompactRange
from client.protocol.merkle import Tree, completed_subtrees
from server.store.models import LogNodeRow

__all__ = ["TreeStore", "edge_query", "grow", "node_rows"]

T = TypeVar("T")
_Key = tuple[int, int]
_PLACEHOLDER = bytes(32)


def _keys_needed(size: int, compute: Callable[[Tree], object]) -> set[_Key]:
    keys: set[_Key] = set()

    def record(level: int, index: int) -> bytes:
        keys.add((level, index))
        return _PLACEHOLDER

    compute(Tree(size, record))
    return keys


def _range_keys(size: int) -> list[_Key]:
    """The perfect subtrees of the first ``size`` leaves, largest first."""
    keys, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


@functools.lru_cache(maxsize=256)
def _fetch_statement(count: int) -> Select[int, int, bytes]:
    """The query for ``count`` subtrees, by ``channel``, ``l0``, ``i0``, ``l1``, … bound later.

    The channel is named inside every term, so that each term is the whole primary key:
    SQLite then looks each row up directly, statistics or not. Outside the OR, it would
    use only the key's first column and read the channel's every row. Built once per
    ``count`` (a proof needs at most two per level): building two dozen terms anew cost
    about as much as running the query.
    """
    return select(LogNodeRow.level, LogNodeRow.idx, LogNodeRow.hash).where(
        or_(
            *(
                and_(
                    LogNodeRow.channel_id == bindparam("channel"),
                    LogNodeRow.level == bindparam(f"l{n}"),
                    LogNodeRow.idx == bindparam(f"i{n}"),
                )
                for n in range(count)
            )
        )
    )


def grow(edge: CompactRange, leaves: Sequence[bytes]) -> dict[_Key, bytes]:
    """Append ``leaves`` to ``edge`` and return the perfect subtrees they complete.

    Pure: the left siblings a new subtree needs are on the edge or completed just now, so
    nothing is read. The caller writes what is returned (``(level, index)`` to hash),
    in the same transaction as the events the leaves stand for.
    """
    size = edge.size
    written: dict[_Key, bytes] = {}
    on_edge = dict(zip(_range_keys(size), edge.hashes, strict=True))
    for offset, leaf in enumerate(leaves):
        for level, index, digest in completed_subtrees(
            size + offset, leaf, lambda lv, ix: written.get((lv, ix)) or on_edge[lv, ix]
        ):
            written[level, index] = digest
        edge.append(leaf)
    return written


def node_rows(channel_id: str, written: dict[_Key, bytes]) -> list[dict[str, object]]:
    """The ``log_nodes`` rows of subtrees returned by :func:`grow`."""
    return [
        {"channel_id": channel_id, "level": lv, "idx": ix, "hash": h}
        for (lv, ix), h in written.items()
    ]


def _fetch_query(
    channel_id: str, keys: set[_Key] | list[_Key]
) -> tuple[Select[int, int, bytes], dict[str, str | int]]:
    params: dict[str, str | int] = {"channel": channel_id}
    for n, (lv, ix) in enumerate(keys):
        params[f"l{n}"], params[f"i{n}"] = lv, ix
    return _fetch_statement(len(keys)), params


def _found_all(
    channel_id: str, keys: set[_Key] | list[_Key], rows: Iterable[Row[int, int, bytes]]
) -> dict[_Key, bytes]:
    found = {(lv, ix): h for lv, ix, h in rows}
    missing = set(keys) - found.keys()
    if missing:
        raise LookupError(f"channel {channel_id}'s tree lacks subtrees {sorted(missing)}")
    return found


def edge_query(
    channel_id: str, size: int
) -> tuple[list[_Key], Select[int, int, bytes], dict[str, str | int]]:
    """What to read for the right edge of the channel's first ``size`` leaves (``size`` > 0).

    Returns:
        The subtrees' keys, largest first, the query that reads them and its parameters.
    """
    keys = _range_keys(size)
    stmt, params = _fetch_query(channel_id, keys)
    return keys, stmt, params


class TreeStore:
    """Reads and grows the trees through one session; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _fetch(self, channel_id: str, keys: set[_Key] | list[_Key]) -> dict[_Key, bytes]:
        if not keys:
            return {}
        stmt, params = _fetch_query(channel_id, keys)
        return _found_all(channel_id, keys, await self.session.execute(stmt, params))

    async def _run(self, channel_id: str, size: int, compute: Callable[[Tree], T]) -> T:
        found = await self._fetch(channel_id, _keys_needed(size, compute))
        return compute(Tree(size, lambda level, index: found[level, index]))

    async def compact_range(self, channel_id: str, size: int) -> CompactRange:
        """The perfect subtrees of the channel's first ``size`` leaves."""
        keys = _range_keys(size)
        found = await self._fetch(channel_id, keys)
        return CompactRange(size, [found[key] for key in keys])

    async def extend(
        self,
        channel_id: str,
        edge: CompactRange,
        leaves: Sequence[bytes],
    ) -> None:
        """Add leaf hashes after ``edge``, the channel's right edge; ``edge`` grows with them.

        Reads nothing (see :func:`grow`); writes each leaf and the subtrees it completes,
        in one statement.
        """
        written = grow(edge, leaves)
        if written:
            await self.session.execute(insert(LogNodeRow), node_rows(channel_id, written))

    async def size(self, channel_id: str) -> int:
        """How many leaves the channel's stored tree has."""
        stmt = select(func.max(LogNodeRow.idx)).where(
            LogNodeRow.channel_id == channel_id, LogNodeRow.level == 0
        )
        last: int | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return 0 if last is None else last + 1

    async def root(self, channel_id: str, size: int) -> bytes:
        """The root of the channel's first ``size`` leaves."""
        return (await self.compact_range(channel_id, size)).root()

    async def inclusion_proof(self, channel_id: str, index: int, size: int) -> list[bytes]:
        """The proof that leaf ``index`` is in the tree of ``size`` leaves."""
        return await self._run(channel_id, size, lambda tree: tree.inclusion_proof(index))

    async def consistency_proof(self, channel_id: str, old_size: int, size: int) -> list[bytes]:
        """The proof that the tree of ``size`` leaves extends the one of ``old_size``."""
        return await self._run(channel_id, size, lambda tree: tree.consistency_proof(old_size))
