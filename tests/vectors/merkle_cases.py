"""Merkle vectors: every proof of every tree of 0..64 leaves, and spoiled proofs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.protocol import merkle
from tests.vectors.common import Vector, b64, outcome

TREE_SIZE = 64

# The leaves of certificate-transparency-go's merkle tests, and the roots it publishes for
# the trees of their first 1..8 leaves (merkle/testonly/constants.go).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def leaf_data() -> list[bytes]:
    return CT_LEAVES + [f"hotline leaf {i}".encode() for i in range(len(CT_LEAVES), TREE_SIZE)]


def leaf_hashes() -> list[bytes]:
    return [merkle.leaf_hash(data) for data in leaf_data()]


def merkle_vectors() -> dict[str, Any]:
    data, leaves = leaf_data(), leaf_hashes()
    roots = [merkle.root_hash(leaves[:n]) for n in range(TREE_SIZE + 1)]
    assert [root.hex() for root in roots[1 : len(CT_ROOTS) + 1]] == CT_ROOTS
    assert roots[0] == merkle.EMPTY_ROOT
    inclusion = [
        [[b64(h) for h in merkle.inclusion_proof(i, leaves[:n])] for i in range(n)]
        for n in range(TREE_SIZE + 1)
    ]
    consistency = [
        [[b64(h) for h in merkle.consistency_proof(m, leaves[:n])] for m in range(n + 1)]
        for n in range(TREE_SIZE + 1)
    ]
    return {
        "about": (
            "RFC 6962 tree of the first n of 64 leaves, for every n in 0..64. "
            "leaves[i]: {data, hash} (base64). roots[n]: root of the first n leaves. "
            "inclusion[n][i]: proof of leaf i in the tree of n leaves (lowest hash first). "
            "consistency[n][m]: proof that the tree of n leaves extends the tree of m. "
            "Every proof here holds; merkle-mutated.json has the ones that must not."
        ),
        "leaves": [{"data": b64(d), "hash": b64(h)} for d, h in zip(data, leaves, strict=True)],
        "roots": [b64(root) for root in roots],
        "inclusion": inclusion,
        "consistency": consistency,
    }


def flip_bit(digest: bytes, bit: int = 0) -> bytes:
    return digest[: bit // 8] + bytes([digest[bit // 8] ^ (1 << bit % 8)]) + digest[bit // 8 + 1 :]


def inclusion_case(
    name: str, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> Vector:
    return {
        "name": name,
        "leaf_hash": b64(leaf),
        "index": index,
        "size": size,
        "proof": [b64(h) for h in proof],
        "root": b64(root),
        **outcome(lambda: merkle.verify_inclusion(leaf, index, size, proof, root)),
    }


def mutated_inclusion(leaves: list[bytes], size: int, index: int) -> list[Vector]:
    """Every way of spoiling the proof of leaf ``index`` in the tree of ``size`` leaves."""
    proof = merkle.inclusion_proof(index, leaves[:size])
    root, leaf = merkle.root_hash(leaves[:size]), leaves[index]
    stray = merkle.leaf_hash(b"not in the tree")
    other_leaf = leaves[(index + 1) % size] if size > 1 else stray
    neighbour = index ^ 1 if index ^ 1 < size else index - 1

    def case(name: str, *args: Any) -> Vector:
        return inclusion_case(f"leaf {index} of {size}: {name}", *args)

    cases = [
        case("the proof as made", leaf, index, size, proof, root),
        case("another leaf", other_leaf, index, size, proof, root),
        case("an extra hash", leaf, index, size, [*proof, stray], root),
        case("the index is the size", leaf, size, size, proof, root),
        case("a negative index", leaf, -1, size, proof, root),
        case("one leaf more", leaf, index, size + 1, proof, root),
        case("twice the size", leaf, index, 2 * size, proof, root),
        case("a flipped bit in the root", leaf, index, size, proof, flip_bit(root)),
        case("a 31-byte leaf hash", leaf[:31], index, size, proof, root),
        case("a 33-byte root", leaf, index, size, proof, root + b"\x00"),
    ]
    if size > 1:
        cases.append(case("the index of its neighbour", leaf, neighbour, size, proof, root))
        cases.append(case("one leaf less", leaf, index, size - 1, proof, root))
    for k, digest in enumerate(proof):
        flipped = [*proof[:k], flip_bit(digest, 8 * k + 3), *proof[k + 1 :]]
        cases.append(case(f"a flipped bit in proof hash {k}", leaf, index, size, flipped, root))
    if proof:
        short = [proof[0][:31], *proof[1:]]
        cases.append(case("the last hash dropped", leaf, index, size, proof[:-1], root))
        cases.append(case("the first hash dropped", leaf, index, size, proof[1:], root))
        cases.append(case("a 31-byte proof hash", leaf, index, size, short, root))
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        cases.append(case("two hashes swapped", leaf, index, size, swapped, root))
    return cases


def consistency_case(
    name: str,
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> Vector:
    return {
        "name": name,
        "old_size": old_size,
        "new_size": new_size,
        "proof": [b64(h) for h in proof],
        "old_root": b64(old_root),
        "new_root": b64(new_root),
        **outcome(lambda: merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)),
    }


def mutated_consistency(leaves: list[bytes], old: int, new: int) -> list[Vector]:
    """Every way of spoiling the proof that the tree of ``new`` leaves extends that of ``old``."""
    proof = merkle.consistency_proof(old, leaves[:new])
    old_root, new_root = merkle.root_hash(leaves[:old]), merkle.root_hash(leaves[:new])
    stray = merkle.leaf_hash(b"not in the tree")
    where = f"{old} to {new}"

    def case(name: str, *args: Any) -> Vector:
        return consistency_case(f"{where}: {name}", *args)

    cases = [
        case("the proof as made", old, new, proof, old_root, new_root),
        case("an extra hash", old, new, [*proof, stray], old_root, new_root),
        case("an empty proof", old, new, [], old_root, new_root),
        case("one old leaf more", old + 1, new, proof, old_root, new_root),
        case("one old leaf less", old - 1, new, proof, old_root, new_root),
        case("one new leaf more", old, new + 1, proof, old_root, new_root),
        case("one new leaf less", old, new - 1, proof, old_root, new_root),
        case("the sizes swapped", new, old, proof, old_root, new_root),
        case("a negative old size", -1, new, proof, old_root, new_root),
        case("the roots swapped", old, new, proof, new_root, old_root),
        case("a flipped bit in the old root", old, new, proof, flip_bit(old_root), new_root),
        case("a flipped bit in the new root", old, new, proof, old_root, flip_bit(new_root)),
        case("a 31-byte old root", old, new, proof, old_root[:31], new_root),
        case("a 33-byte new root", old, new, proof, old_root, new_root + b"\x00"),
        case("the last hash dropped", old, new, proof[:-1], old_root, new_root),
        case("the first hash dropped", old, new, proof[1:], old_root, new_root),
        case("a 31-byte proof hash", old, new, [proof[0][:31], *proof[1:]], old_root, new_root),
    ]
    for k, digest in enumerate(proof):
        flipped = [*proof[:k], flip_bit(digest, 8 * k + 5), *proof[k + 1 :]]
        cases.append(
            case(f"a flipped bit in proof hash {k}", old, new, flipped, old_root, new_root)
        )
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        cases.append(case("two hashes swapped", old, new, swapped, old_root, new_root))
    return cases


def trivial_consistency(leaves: list[bytes], size: int) -> list[Vector]:
    """From the empty tree, and from a tree to itself: nothing to prove, nothing to show."""
    root, empty, stray = merkle.root_hash(leaves[:size]), merkle.EMPTY_ROOT, leaves[0]
    cases = [
        consistency_case(f"0 to {size}: nothing to prove", 0, size, [], empty, root),
        consistency_case(f"0 to {size}: a proof of nothing", 0, size, [stray], empty, root),
        consistency_case(f"0 to {size}: an old root that is not empty", 0, size, [], stray, root),
    ]
    if size == 0:
        return cases
    return [
        *cases,
        consistency_case(f"{size} to {size}: nothing to prove", size, size, [], root, root),
        consistency_case(f"{size} to {size}: a proof of nothing", size, size, [stray], root, root),
        consistency_case(f"{size} to {size}: two roots", size, size, [], root, flip_bit(root)),
    ]


# Every small tree, and the sizes around the powers of two where proofs change shape; the
# trees between add length to the file and nothing new to the checks.
MUTATED_SIZES = [*range(1, 21), 31, 32, 33, 47, 63, 64]


def mutated_vectors() -> dict[str, Any]:
    leaves = leaf_hashes()
    inclusion = [
        inclusion_case(
            "leaf 0 of 0: no leaf is in the empty tree", leaves[0], 0, 0, [], merkle.EMPTY_ROOT
        )
    ]
    consistency = trivial_consistency(leaves, 0)
    for size in MUTATED_SIZES:
        # One leaf, and one older tree, per size: where they fall moves across the tree.
        inclusion += mutated_inclusion(leaves, size, 5 * size // 7)
        consistency += trivial_consistency(leaves, size)
        if size > 1:
            consistency += mutated_consistency(leaves, max(1, 3 * size // 5), size)
    return {
        "about": (
            "Merkle proofs, most of them spoiled, and what verifying each must give: "
            "error null when it holds, else error 'ProofError' and Python's message. "
            "inclusion: {name, leaf_hash, index, size, proof, root, error, message}; "
            "consistency: {name, old_size, new_size, proof, old_root, new_root, error, message}. "
            "Hashes are base64; a proof lists its hashes lowest first."
        ),
        "inclusion": inclusion,
        "consistency": consistency,
    }
