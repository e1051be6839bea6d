"""The verifiable log: leaves appended with their events, signed checkpoints, proofs.

Every event a command appends becomes a leaf of its channel's Merkle tree in the same
transaction (the writer's ``Batch.append``; :func:`append_leaves` does the same for a log
written before its tree, at start-up). A checkpoint is the
tree's size and root, signed with the server's key (``server/keys.py``) when it is first
asked for and remembered: the tree of the first n events never changes, so neither does
its checkpoint.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from client.protocol import schemas
from client.protocol.checkpoint import Checkpoint, sign_checkpoint
from client.protocol.log import CompactRange, event_hash, origin
from server.domain.errors import Invalid, NotFound
from server.domain.model import Actor
from server.keys import LogKeys
from server.store.db import Database
from server.store.repository import Repository
from server.store.tree import TreeStore

__all__ = [
    "Checkpoints",
    "Proof",
    "SignedCheckpoint",
    "append_leaves",
    "build_missing",
    "consistency_proof",
    "inclusion_proof",
    "latest_checkpoint",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A channel's checkpoint and the signed note that carries it."""

    checkpoint: Checkpoint
    note: str


@dataclass(frozen=True, slots=True)
class Proof:
    """The hashes of an inclusion or consistency proof, lowest first."""

    hashes: list[bytes]


class Checkpoints:
    """Signs checkpoints with the server's keys, each (channel, size) once.

    Args:
        keys: the server's signing keys.
        remember: how many signed checkpoints to keep (the most recently used).
    """

    def __init__(self, keys: LogKeys, *, remember: int = 4096) -> None:
        self.keys = keys
        self._remember = remember
        self._signed: OrderedDict[tuple[str, int], SignedCheckpoint] = OrderedDict()

    def origin(self, channel: str) -> str:
        """The origin line of the channel's checkpoints."""
        return origin(self.keys.name, channel)

    def sign(self, channel: str, size: int, root: bytes) -> SignedCheckpoint:
        """The signed checkpoint of the channel's first ``size`` events."""
        key = (channel, size)
        found = self._signed.get(key)
        if found is not None and found.checkpoint.root_hash == root:
            self._signed.move_to_end(key)
            return found
        checkpoint = Checkpoint(self.origin(channel), size, root)
        signed = SignedCheckpoint(checkpoint, sign_checkpoint(checkpoint, self.keys.signers))
        self._signed[key] = signed
        if len(self._signed) > self._remember:
            self._signed.popitem(last=False)
        return signed


async def append_leaves(
    tree: TreeStore,
    channel_id: str,
    head: int,
    events: Sequence[schemas.Event],
    *,
    edge: CompactRange | None = None,
) -> CompactRange:
    """Add ``events`` (just appended after ``head``) to the channel's tree.

    Args:
        tree: the store, in the transaction that appended the events.
        channel_id: their channel.
        head: how many events the log had before them.
        events: the events.
        edge: the tree's right edge at ``head``, if the caller knows it; else it is read.

    Returns:
        The tree's right edge after the events; its root is the channel's new root.
    """
    if edge is None:
        edge = await tree.compact_range(channel_id, head)
    elif edge.size != head:
        raise ValueError(f"an edge of {edge.size} leaves given for a log of {head} events")
    await tree.extend(channel_id, edge, [event_hash(e.model_dump(mode="json")) for e in events])
    return edge


async def _visible_head(session: AsyncSession, actor: Actor, channel_id: str) -> int:
    head = await Repository(session).visible_head(actor.party, channel_id)
    if head is None:
        raise NotFound(f"no channel {channel_id}")
    return head


async def latest_checkpoint(
    db: Database, checkpoints: Checkpoints, actor: Actor, channel_id: str
) -> SignedCheckpoint:
    """The signed checkpoint of the channel's whole log as it stands."""
    async with db.session() as session:
        head = await _visible_head(session, actor, channel_id)
        root = await TreeStore(session).root(channel_id, head)
    return checkpoints.sign(channel_id, head, root)


async def checkpoint_at(
    db: Database, checkpoints: Checkpoints, channel_id: str, size: int
) -> SignedCheckpoint:
    """The signed checkpoint of the channel's first ``size`` events (no access check)."""
    async with db.session() as session:
        root = await TreeStore(session).root(channel_id, size)
    return checkpoints.sign(channel_id, size, root)


async def inclusion_proof(
    db: Database, actor: Actor, channel_id: str, *, seq: int, size: int
) -> Proof:
    """The proof that event ``seq`` is in the tree of the first ``size`` events.

    Raises:
        NotFound: the channel is not the caller's.
        Invalid: ``seq`` is not in a tree of ``size``, or ``size`` is beyond the log.
    """
    async with db.session() as session:  # one session: the head, then the proof
        head = await _visible_head(session, actor, channel_id)
        if size > head:
            raise Invalid(f"the log has {head} events, not {size}", field="size")
        if not 1 <= seq <= size:
            raise Invalid(f"event {seq} is not in a tree of {size} events", field="seq")
        return Proof(await TreeStore(session).inclusion_proof(channel_id, seq - 1, size))


async def consistency_proof(
    db: Database, actor: Actor, channel_id: str, *, old_size: int, size: int
) -> Proof:
    """The proof that the tree of ``size`` events extends the one of ``old_size``.

    Raises:
        NotFound: the channel is not the caller's.
        Invalid: ``old_size`` exceeds ``size``, or ``size`` is beyond the log.
    """
    async with db.session() as session:
        head = await _visible_head(session, actor, channel_id)
        if size > head:
            raise Invalid(f"the log has {head} events, not {size}", field="size")
        if old_size > size:
            raise Invalid(
                f"a tree of {size} events cannot extend one of {old_size}", field="old_size"
            )
        return Proof(await TreeStore(session).consistency_proof(channel_id, old_size, size))


async def build_missing(db: Database, *, batch: int = 1000) -> int:
    """Grow each channel's tree to cover its whole log; the number of leaves added.

    Logs written before the tree existed (migration 0002) get theirs on the next start.
    Each batch is a command-like transaction that first takes the channel's write lock.
    """
    added = 0
    async with db.session() as session:
        channel_ids = await Repository(session).channel_ids()
    for channel_id in channel_ids:
        while True:
            async with db.session() as session:
                repo, tree = Repository(session), TreeStore(session)
                locked = await repo.lock_channel(channel_id, party=None)
                assert locked is not None
                size = await tree.size(channel_id)
                events = await repo.log(channel_id, after=size, limit=batch)
                if not events:
                    break
                await append_leaves(tree, channel_id, size, events)
                await session.commit()
                added += len(events)
    if added:
        log.info("built the Merkle tree of existing events", extra={"leaves": added})
    return added
