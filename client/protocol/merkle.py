r"""Merkle trees for the verifiable log: RFC 6962 hashing, RFC 9162 proofs.

Every event of a channel is a leaf of a Merkle tree. The server signs the tree's root in
a checkpoint; with a short proof anyone can then check that an event is in the tree
(*inclusion*) or that today's tree still begins with yesterday's (*consistency*), without
trusting the server and without downloading the whole log.

Hashing (RFC 6962 §2.1)
-----------------------
Leaves and interior nodes are hashed with different one-byte prefixes, so that no leaf
can ever pass for a node, nor a node for a leaf::

    leaf_hash(d)    = SHA-256(0x00 || d)
    node_hash(l, r) = SHA-256(0x01 || l || r)

The Merkle Tree Hash of n leaves, MTH(D[0:n]), is SHA-256 of nothing when n = 0, the
leaf's hash when n = 1, and otherwise::

    k = the largest power of two smaller than n
    MTH(D[0:n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))

Splitting at the largest power of two, rather than in the middle, is what makes the tree
fit a log. The left part D[0:k] is a *perfect* subtree (2**j leaves, every level full)
that appending can never change again; only the right edge is still growing. A tree of
7 = 0b111 leaves is three perfect subtrees, one per bit of its size, hung from the right
edge::

                    root
                 /        \
           [0..3]          [4..6]
           /    \          /    \
       [0,1]    [2,3]   [4,5]     6
       /  \     /  \    /  \
      0    1   2    3  4    5

Proofs (RFC 9162 §2.1.3 and §2.1.4)
-----------------------------------
An inclusion proof for leaf m lists the hashes of the subtrees beside the path from the
leaf up to the root, lowest first; the verifier rebuilds the root from the leaf and them.
A consistency proof from size m to size n lists the few subtree hashes from which both
the old root and the new root can be rebuilt. Both hold at most about log2(n) hashes.

Storing the tree
----------------
Every hash a proof needs is the hash of a range D[a:b] whose start is a multiple of a
power of two at least as large as the range. Such a range is a row of perfect subtrees,
one per bit of b - a, largest first, so its hash folds out of at most log2(n) perfect
subtree hashes. Perfect subtrees never change once complete, so a store needs to keep
only those, addressed as ``(level, index)``: the subtree over the leaves
``[index * 2**level, (index + 1) * 2**level)``.

:class:`Tree` computes roots and proofs from any :class:`SubtreeHashes` callable that
looks such hashes up, and :func:`completed_subtrees` says which ones appending a leaf
completes, so that appending and proving each cost O(log n) reads. The list functions
(:func:`root_hash`, :func:`inclusion_proof`, :func:`consistency_proof`) are the same
code over leaf hashes held in memory.

Exceptions::

    ValueError
     └── ProofError    a proof does not hold, or claims something that cannot be
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ProofError",
    "SubtreeHashes",
    "Tree",
    "completed_subtrees",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the tree with no leaves: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A Merkle proof does not hold, or the claim it is checked against is impossible.

    Attributes:
        index: The leaf index of an inclusion proof, else None.
        size: The tree size of an inclusion proof, else None.
        old_size: The older tree size of a consistency proof, else None.
        new_size: The newer tree size of a consistency proof, else None.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        size: int | None = None,
        old_size: int | None = None,
        new_size: int | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.size = size
        self.old_size = old_size
        self.new_size = new_size


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf holding ``data``: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 6962 cuts."""
    return 1 << ((n - 1).bit_length() - 1)


class SubtreeHashes(Protocol):
    """Looks up the hash of a complete, perfect subtree."""

    def __call__(self, level: int, index: int, /) -> bytes:
        """The hash of the leaves ``[index * 2**level, (index + 1) * 2**level)``.

        Level 0 holds the leaf hashes themselves.
        """
        ...


class Tree:
    """A tree of ``size`` leaves, read through its perfect subtrees.

    Args:
        size: The number of leaves; only leaves ``[0, size)`` are ever looked at.
        subtree: Returns the hash of a perfect subtree that lies inside the tree.

    Raises:
        ValueError: ``size`` is negative.
    """

    def __init__(self, size: int, subtree: SubtreeHashes) -> None:
        if size < 0:
            raise ValueError(f"a tree cannot have {size} leaves")
        self.size = size
        self._subtree = subtree

    def root(self) -> bytes:
        """MTH of the whole tree."""
        return self.range_hash(0, self.size)

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]), the hash of the leaves ``[start, end)`` as a tree of their own.

        Ranges whose start is a multiple of a power of two at least ``end - start`` (the
        only ones proofs use) take at most log2(size) lookups; others are still right,
        just slower.

        Raises:
            ValueError: The range is not inside the tree.
        """
        if not 0 <= start <= end <= self.size:
            raise ValueError(f"[{start}, {end}) is not a range of a tree of size {self.size}")
        if start == end:
            return EMPTY_ROOT
        return self._hash(start, end)

    def _hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self._subtree(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1: the proof that leaf ``index`` is in.

        Raises:
            ValueError: ``index`` is not a leaf of the tree.
        """
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {self.size}")
        proof: list[bytes] = []
        start, end = 0, self.size
        # Walk down from the root towards the leaf, taking the sibling at each level.
        while end - start > 1:
            middle = start + _split(end - start)
            if index < middle:
                proof.append(self._hash(middle, end))
                end = middle
            else:
                proof.append(self._hash(start, middle))
                start = middle
        proof.reverse()  # the RFC lists the proof from the leaf up
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1: this tree extends the older one.

        The proof is empty when ``old_size`` is 0 or ``size``: there is nothing to prove.

        Raises:
            ValueError: ``old_size`` is negative or larger than the tree.
        """
        if not 0 <= old_size <= self.size:
            raise ValueError(f"a tree of size {self.size} cannot extend one of size {old_size}")
        if old_size in (0, self.size):
            return []
        proof: list[bytes] = []
        start, end = 0, self.size
        # SUBPROOF(m, D[start:end], b) unrolled. `m` counts the old leaves in [start, end).
        # `at_left_edge` is the RFC's b: while the range starts at leaf 0, a range of
        # exactly m leaves is the whole old tree, whose root the verifier already has.
        m, at_left_edge = old_size, True
        while m != end - start:
            middle = start + _split(end - start)
            if m <= middle - start:
                proof.append(self._hash(middle, end))
                end = middle
            else:
                proof.append(self._hash(start, middle))
                m -= middle - start
                start = middle
                at_left_edge = False
        if not at_left_edge:
            proof.append(self._hash(start, end))
        proof.reverse()
        return proof


def completed_subtrees(
    leaf_index: int, leaf: bytes, subtree: SubtreeHashes
) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees that appending leaf ``leaf_index`` completes, for a store to keep.

    The new leaf is a subtree of level 0; while it is a right child, it completes its
    parent too. ``subtree`` is asked only for the left siblings, which already exist.

    Args:
        leaf_index: The position of the new leaf, which is the tree's size before it.
        leaf: The new leaf's hash.
        subtree: Looks up perfect subtrees of the tree before the append.

    Returns:
        ``(level, index, hash)`` for each completed subtree, from the leaf upwards.

    Raises:
        ValueError: ``leaf_index`` is negative.
    """
    if leaf_index < 0:
        raise ValueError(f"{leaf_index} is not a leaf index")
    level, index, digest = 0, leaf_index, leaf
    completed = [(level, index, digest)]
    while index % 2 == 1:
        digest = node_hash(subtree(level, index - 1), digest)
        level, index = level + 1, index // 2
        completed.append((level, index, digest))
    return completed


def _in_memory(leaf_hashes: Sequence[bytes]) -> Tree:
    def subtree(level: int, index: int) -> bytes:
        if level == 0:
            return leaf_hashes[index]
        return node_hash(subtree(level - 1, 2 * index), subtree(level - 1, 2 * index + 1))

    return Tree(len(leaf_hashes), subtree)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree with these leaf hashes; :data:`EMPTY_ROOT` when there are none."""
    return _in_memory(leaf_hashes).root()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that leaf ``index`` is in the tree of ``leaf_hashes``.

    Raises:
        ValueError: ``index`` is not a leaf of the tree.
    """
    return _in_memory(leaf_hashes).inclusion_proof(index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``leaf_hashes`` extends its first ``old_size`` leaves.

    Raises:
        ValueError: ``old_size`` is negative or larger than the tree.
    """
    return _in_memory(leaf_hashes).consistency_proof(old_size)


def _check_hashes(what: str, *hashes: bytes) -> None:
    # A short hash could never match, but saying so beats a puzzling "wrong root".
    for digest in hashes:
        if len(digest) != HASH_SIZE:
            raise ProofError(f"{what} has {len(digest)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    This is the algorithm of RFC 9162 §2.1.3.2, step by step.

    Raises:
        ProofError: The proof does not hold, or a hash is not 32 bytes long, or the
            index is outside the tree.
    """
    _check_hashes("the leaf hash", leaf_hash)
    _check_hashes("the root", root)
    _check_hashes("a proof hash", *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}", index=index, size=size)
    # fn is the node we have reached, sn the last node of its level; they walk up together.
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is too long", index=index, size=size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A last node with no right sibling is carried up unchanged, so skip levels
            # until it becomes a right child.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is too short", index=index, size=size)
    if r != root:
        raise ProofError("the proof leads to another root", index=index, size=size)


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the older one.

    For 0 < old_size < new_size this is the algorithm of RFC 9162 §2.1.4.2, step by step.
    The RFC defines no proof for the other sizes; there, as there is nothing to prove,
    the proof must be empty: an empty tree (whose root must be :data:`EMPTY_ROOT`) is
    extended by every tree, and a tree of the same size only by itself.

    Raises:
        ProofError: The proof does not hold, or a hash is not 32 bytes long, or the sizes
            make no sense (negative, or the old tree larger than the new).
    """

    def fail(message: str) -> ProofError:
        return ProofError(message, old_size=old_size, new_size=new_size)

    _check_hashes("the old root", old_root)
    _check_hashes("the new root", new_root)
    _check_hashes("a proof hash", *proof)
    if not 0 <= old_size <= new_size:
        raise fail(f"a tree of size {new_size} cannot extend one of size {old_size}")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise fail("there is nothing to prove, yet the proof is not empty")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise fail("the old root is not the root of the empty tree")
        if old_size == new_size and old_root != new_root:
            raise fail("two trees of the same size have different roots")
        return
    if not proof:
        raise fail("the proof is empty")

    path = list(proof)
    # A perfect old tree is itself a node of the new tree; the proof leaves it out.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    # Climb to the largest perfect subtree ending with the old tree's last leaf: the
    # subtree whose hash comes first in the path.
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise fail("the proof is too long")
        if fn & 1 or fn == sn:
            # c is a left sibling: part of both trees.
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            # c is a right sibling: only in the new tree.
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise fail("the proof is too short")
    if fr != old_root:
        raise fail("the proof leads to another old root")
    if sr != new_root:
        raise fail("the proof leads to another new root")
