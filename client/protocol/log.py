"""What a channel's log commits to: its leaves, its name, and a compact running root.

Leaves
------
Every event is one leaf of its channel's Merkle tree, in log order. The leaf's bytes are
the RFC 8785 canonical JSON (JCS) of the event exactly as the API serves it, so a client
recomputes the hash from the object it received, whatever order its JSON library keeps
keys in and however the server happened to space its output::

    leaf_hash(rfc8785(event))

Origins
-------
A checkpoint names its log in its first line, the *origin*. Hotline's is the server's
log name and the channel's id, ``hotline.example/water-roads``: a checkpoint of one
channel can never pass for one of another, nor one of another server.

Compact ranges
--------------
A reader who has seen every leaf from the first can keep a tree's root up to date
without keeping the leaves: the tree of n leaves is one perfect subtree per bit of n,
and only those few hashes (at most 64) are needed to append the next leaf and to fold the
root. :class:`CompactRange` is that running state. It is what the Python client keeps in
its resume file: rebuilding the root of a signed checkpoint from it proves at once that
every event received is in the log, and that the new log extends the one it had checked
before.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client.protocol.canonical import canonical_json
from client.protocol.merkle import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

__all__ = ["CompactRange", "event_hash", "leaf_bytes", "origin"]


def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """The bytes of an event's leaf: its RFC 8785 canonical JSON.

    Args:
        event: The event as a JSON object (decoded, not a model), exactly as served.
    """
    return canonical_json(event)


def event_hash(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an event."""
    return leaf_hash(leaf_bytes(event))


def origin(log_name: str, channel: str) -> str:
    """The origin line of a channel's checkpoints: ``<log name>/<channel id>``."""
    return f"{log_name}/{channel}"


@dataclass
class CompactRange:
    """The perfect subtrees of the first ``size`` leaves of a tree, largest first.

    Attributes:
        size: How many leaves have been appended.
        hashes: One hash per set bit of ``size``, the largest subtree first.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != self.size.bit_count():
            raise ValueError(f"a range of {self.size} leaves has one hash per bit of its size")
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError(f"every hash has {HASH_SIZE} bytes")

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash, merging the subtrees it completes."""
        merged, size = leaf, self.size
        while size & 1:  # the smallest subtree is as big as the new one: they pair up
            merged = node_hash(self.hashes.pop(), merged)
            size >>= 1
        self.hashes.append(merged)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The Merkle root of the leaves so far (the empty tree's root for none)."""
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    @classmethod
    def from_inclusion_proof(cls, size: int, proof: Sequence[bytes], last: bytes) -> CompactRange:
        """The range of ``size`` leaves, from the inclusion proof of its last leaf.

        The proof that leaf ``size - 1`` is in the tree of ``size`` leaves lists, lowest
        first, exactly the perfect subtrees to its left: the range of ``size - 1`` leaves.
        A reader who starts in the middle of a log can begin from it; the first signed
        root it rebuilds afterwards shows whether the proof was true.

        Raises:
            ValueError: the proof has not one hash per bit of ``size - 1``.
        """
        if size < 1:
            raise ValueError("a range built from a proof has at least one leaf")
        built = cls(size - 1, list(reversed(proof)))
        built.append(last)
        return built

    def to_json(self) -> dict[str, Any]:
        """The range as JSON: ``{"size": n, "hashes": [base64, …]}``."""
        return {"size": self.size, "hashes": [base64.b64encode(h).decode() for h in self.hashes]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CompactRange:
        """Read what :meth:`to_json` wrote.

        Raises:
            ValueError: it is not a compact range.
        """
        size, hashes = raw.get("size"), raw.get("hashes")
        if not isinstance(size, int) or not isinstance(hashes, list):
            raise ValueError("a compact range has an integer size and a list of hashes")
        return cls(size, [base64.b64decode(h, validate=True) for h in hashes])
