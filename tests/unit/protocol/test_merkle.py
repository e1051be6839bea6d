"""The Merkle tree against published vectors, RFC 6962's own definitions, and attackers."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client.protocol import merkle
from client.protocol.merkle import ProofError, Tree

# ---------------------------------------------------------------------------------------
# An independent reference, written straight from RFC 6962 §2.1 as recursive definitions
# over the leaf *data*. It shares no code with the module under test.
# ---------------------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n])."""
    if len(d) == 0:
        return sha256(b"")
    if len(d) == 1:
        return sha256(b"\x00" + d[0])
    k = largest_power_of_two_below(len(d))
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), the audit path of leaf m."""
    if len(d) == 1:
        return []
    k = largest_power_of_two_below(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), defined for 0 < m < n; empty otherwise, as there is nothing to prove."""
    return subproof(m, d, True) if 0 < m < len(d) else []


# ---------------------------------------------------------------------------------------
# Fixtures shared by the tests: 64 distinct leaves and the root of every prefix.
# ---------------------------------------------------------------------------------------

MAX_SIZE = 64
DATA = [f"notice {i}".encode() for i in range(MAX_SIZE)]
LEAVES = [merkle.leaf_hash(entry) for entry in DATA]
ROOTS = [mth(DATA[:size]) for size in range(MAX_SIZE + 1)]

# The Certificate Transparency reference tree (RFC 6962 test vectors, as published with
# the CT and transparency-dev sources).
CT_DATA = [
    bytes.fromhex(entry)
    for entry in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_LEAVES = [merkle.leaf_hash(entry) for entry in CT_DATA]
CT_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [digest.hex() for digest in hashes]


def flip_bit(digest: bytes, bit: int) -> bytes:
    flipped = bytearray(digest)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# ---------------------------------------------------------------------------------------
# Fixed vectors
# ---------------------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root_hash([]).hex() == CT_ROOTS[0]
    assert sha256(b"") == merkle.EMPTY_ROOT


def test_single_leaf_tree_root_is_the_leaf_hash() -> None:
    assert merkle.root_hash([merkle.leaf_hash(b"")]) == sha256(b"\x00")
    assert merkle.root_hash([LEAVES[0]]) == LEAVES[0]


def test_leaf_and_node_hashes_use_the_rfc_6962_prefixes() -> None:
    assert merkle.leaf_hash(b"abc") == sha256(b"\x00abc")
    assert merkle.node_hash(LEAVES[0], LEAVES[1]) == sha256(b"\x01" + LEAVES[0] + LEAVES[1])


@pytest.mark.parametrize("size", sorted(CT_ROOTS))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert merkle.root_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_inclusion_proofs_match_the_certificate_transparency_vectors(index: int, size: int) -> None:
    expected = CT_INCLUSION[index, size]
    assert hexes(merkle.inclusion_proof(index, CT_LEAVES[:size])) == expected
    root = bytes.fromhex(CT_ROOTS[size])
    merkle.verify_inclusion(
        CT_LEAVES[index], index, size, [bytes.fromhex(h) for h in expected], root
    )


@pytest.mark.parametrize(("old_size", "new_size"), sorted(CT_CONSISTENCY))
def test_consistency_proofs_match_the_certificate_transparency_vectors(
    old_size: int, new_size: int
) -> None:
    expected = CT_CONSISTENCY[old_size, new_size]
    assert hexes(merkle.consistency_proof(old_size, CT_LEAVES[:new_size])) == expected
    merkle.verify_consistency(
        old_size,
        new_size,
        [bytes.fromhex(h) for h in expected],
        bytes.fromhex(CT_ROOTS[old_size]),
        bytes.fromhex(CT_ROOTS[new_size]),
    )


# ---------------------------------------------------------------------------------------
# Every tree of up to 64 leaves, against the reference
# ---------------------------------------------------------------------------------------


def test_every_root_up_to_64_leaves_matches_the_rfc_definition() -> None:
    for size in range(MAX_SIZE + 1):
        assert merkle.root_hash(LEAVES[:size]) == ROOTS[size], size


def test_every_inclusion_proof_up_to_64_leaves_matches_the_rfc_and_verifies() -> None:
    for size in range(1, MAX_SIZE + 1):
        for index in range(size):
            made = merkle.inclusion_proof(index, LEAVES[:size])
            assert made == path(index, DATA[:size]), (index, size)
            merkle.verify_inclusion(LEAVES[index], index, size, made, ROOTS[size])


def test_every_consistency_proof_up_to_64_leaves_matches_the_rfc_and_verifies() -> None:
    for new_size in range(MAX_SIZE + 1):
        for old_size in range(new_size + 1):
            made = merkle.consistency_proof(old_size, LEAVES[:new_size])
            assert made == proof(old_size, DATA[:new_size]), (old_size, new_size)
            merkle.verify_consistency(old_size, new_size, made, ROOTS[old_size], ROOTS[new_size])


def test_proofs_are_no_longer_than_the_tree_is_deep() -> None:
    for size in range(1, MAX_SIZE + 1):
        depth = math.ceil(math.log2(size))
        for index in range(size):
            assert len(merkle.inclusion_proof(index, LEAVES[:size])) <= depth
        for old_size in range(size):
            assert len(merkle.consistency_proof(old_size, LEAVES[:size])) <= depth + 1


# ---------------------------------------------------------------------------------------
# Trees kept as perfect subtrees, the way a store keeps them
# ---------------------------------------------------------------------------------------


class SubtreeStore:
    """A dict of perfect subtree hashes, filled by appending, counting its reads."""

    def __init__(self) -> None:
        self.hashes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.hashes[level, index]

    def append(self, leaf: bytes) -> None:
        for level, index, digest in merkle.completed_subtrees(self.size, leaf, self):
            self.hashes[level, index] = digest
        self.size += 1


def filled_store(leaves: Sequence[bytes]) -> SubtreeStore:
    store = SubtreeStore()
    for leaf in leaves:
        store.append(leaf)
    return store


def test_appending_completes_every_perfect_subtree_that_ends_with_the_new_leaf() -> None:
    store = filled_store(LEAVES[:7])
    completed = merkle.completed_subtrees(7, LEAVES[7], store)
    assert [(level, index) for level, index, _ in completed] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert completed[-1][2] == ROOTS[8]
    assert [
        (level, index) for level, index, _ in merkle.completed_subtrees(4, LEAVES[4], store)
    ] == [(0, 4)]


def test_a_store_of_perfect_subtrees_gives_the_same_roots_and_proofs() -> None:
    store = filled_store(LEAVES)
    # Leaves appended later never change a perfect subtree inside an older tree, so one
    # store of 64 leaves serves every smaller size too.
    for size in range(MAX_SIZE + 1):
        tree = Tree(size, store)
        assert tree.root() == ROOTS[size]
        for index in range(size):
            assert tree.inclusion_proof(index) == merkle.inclusion_proof(index, LEAVES[:size])
        for old_size in range(size + 1):
            expected = merkle.consistency_proof(old_size, LEAVES[:size])
            assert tree.consistency_proof(old_size) == expected


def test_a_store_is_read_only_logarithmically_often() -> None:
    store = filled_store(LEAVES)
    for size in range(1, MAX_SIZE + 1):
        tree = Tree(size, store)
        bound = 2 * size.bit_length()
        store.reads = 0
        tree.root()
        assert store.reads <= size.bit_length()
        for index in range(size):
            store.reads = 0
            tree.inclusion_proof(index)
            assert store.reads <= bound, (index, size)
        for old_size in range(size + 1):
            store.reads = 0
            tree.consistency_proof(old_size)
            assert store.reads <= bound, (old_size, size)


def uniform_tree_subtrees() -> Callable[[int, int], bytes]:
    """Perfect subtrees of a tree whose leaves are all alike: any size costs nothing."""

    @functools.cache
    def at_level(level: int) -> bytes:
        if level == 0:
            return merkle.leaf_hash(b"same")
        below = at_level(level - 1)
        return merkle.node_hash(below, below)

    return lambda level, _index: at_level(level)


def test_proofs_in_a_tree_of_a_quadrillion_leaves_verify() -> None:
    subtrees = uniform_tree_subtrees()
    old_size, new_size = 10**15 - 12345, 10**15 + 7
    old, new = Tree(old_size, subtrees), Tree(new_size, subtrees)
    index = 2**49 + 12345
    merkle.verify_inclusion(
        subtrees(0, index), index, new_size, new.inclusion_proof(index), new.root()
    )
    merkle.verify_consistency(
        old_size, new_size, new.consistency_proof(old_size), old.root(), new.root()
    )


def test_range_hash_is_the_hash_of_the_leaves_as_a_tree_of_their_own() -> None:
    tree = Tree(MAX_SIZE, filled_store(LEAVES))
    for start in range(0, 20):
        for end in range(start, 40):
            assert tree.range_hash(start, end) == mth(DATA[start:end]), (start, end)


# ---------------------------------------------------------------------------------------
# Asking for impossible proofs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0)])
def test_an_inclusion_proof_for_a_leaf_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(index, LEAVES[:size])


@pytest.mark.parametrize(("old_size", "size"), [(-1, 5), (6, 5)])
def test_a_consistency_proof_from_an_impossible_size_is_refused(old_size: int, size: int) -> None:
    with pytest.raises(ValueError, match="cannot extend"):
        merkle.consistency_proof(old_size, LEAVES[:size])


def test_a_tree_of_negative_size_or_a_range_outside_it_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot have"):
        Tree(-1, filled_store([]))
    tree = Tree(4, filled_store(LEAVES[:4]))
    for start, end in [(-1, 2), (2, 1), (0, 5)]:
        with pytest.raises(ValueError, match="is not a range"):
            tree.range_hash(start, end)
    with pytest.raises(ValueError, match="not a leaf index"):
        merkle.completed_subtrees(-1, LEAVES[0], filled_store([]))


# ---------------------------------------------------------------------------------------
# Checking impossible claims
# ---------------------------------------------------------------------------------------


def test_proof_error_is_a_value_error_that_says_what_was_checked() -> None:
    with pytest.raises(ProofError) as inclusion:
        merkle.verify_inclusion(LEAVES[0], 3, 2, [], ROOTS[2])
    assert isinstance(inclusion.value, ValueError)
    assert (inclusion.value.index, inclusion.value.size) == (3, 2)
    with pytest.raises(ProofError) as consistency:
        merkle.verify_consistency(3, 2, [], ROOTS[3], ROOTS[2])
    assert (consistency.value.old_size, consistency.value.new_size) == (3, 2)


@pytest.mark.parametrize(("index", "size"), [(-1, 4), (4, 4), (5, 4), (0, 0), (0, -1)], ids=str)
def test_an_inclusion_claim_outside_the_tree_is_rejected(index: int, size: int) -> None:
    with pytest.raises(ProofError, match="not in a tree"):
        merkle.verify_inclusion(
            LEAVES[0], index, size, merkle.inclusion_proof(0, LEAVES[:4]), ROOTS[4]
        )


@pytest.mark.parametrize("length", [0, 31, 33])
def test_hashes_of_the_wrong_length_are_rejected(length: int) -> None:
    bad = b"\x07" * length
    good_proof = merkle.inclusion_proof(2, LEAVES[:5])
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_inclusion(bad, 2, 5, good_proof, ROOTS[5])
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_inclusion(LEAVES[2], 2, 5, good_proof, bad)
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_inclusion(LEAVES[2], 2, 5, [*good_proof[:-1], bad], ROOTS[5])
    consistency = merkle.consistency_proof(3, LEAVES[:5])
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_consistency(3, 5, consistency, bad, ROOTS[5])
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_consistency(3, 5, consistency, ROOTS[3], bad)
    with pytest.raises(ProofError, match="bytes, not 32"):
        merkle.verify_consistency(3, 5, [bad, *consistency[1:]], ROOTS[3], ROOTS[5])


@pytest.mark.parametrize(("old_size", "new_size"), [(-1, 3), (-2, -1), (4, 3), (1, 0)])
def test_nonsensical_consistency_sizes_are_rejected(old_size: int, new_size: int) -> None:
    with pytest.raises(ProofError, match="cannot extend"):
        merkle.verify_consistency(old_size, new_size, [], ROOTS[0], ROOTS[0])


def test_the_empty_tree_is_extended_by_every_tree_without_a_proof() -> None:
    for size in range(MAX_SIZE + 1):
        merkle.verify_consistency(0, size, [], merkle.EMPTY_ROOT, ROOTS[size])


def test_a_proof_from_the_empty_tree_must_be_empty() -> None:
    with pytest.raises(ProofError, match="nothing to prove"):
        merkle.verify_consistency(0, 4, [ROOTS[4]], merkle.EMPTY_ROOT, ROOTS[4])


def test_an_empty_tree_with_a_root_that_is_not_the_empty_root_is_rejected() -> None:
    with pytest.raises(ProofError, match="not the root of the empty tree"):
        merkle.verify_consistency(0, 4, [], ROOTS[1], ROOTS[4])


def test_a_tree_is_consistent_with_itself_only_with_an_empty_proof_and_equal_roots() -> None:
    merkle.verify_consistency(5, 5, [], ROOTS[5], ROOTS[5])
    with pytest.raises(ProofError, match="different roots"):
        merkle.verify_consistency(5, 5, [], ROOTS[5], ROOTS[6])
    with pytest.raises(ProofError, match="nothing to prove"):
        merkle.verify_consistency(5, 5, [LEAVES[0]], ROOTS[5], ROOTS[5])


def test_an_empty_consistency_proof_between_different_sizes_is_rejected() -> None:
    with pytest.raises(ProofError, match="empty"):
        merkle.verify_consistency(4, 8, [], ROOTS[4], ROOTS[8])


def test_a_rewritten_history_is_detected() -> None:
    rewritten = [*LEAVES[:3], merkle.leaf_hash(b"a notice nobody sent"), *LEAVES[4:10]]
    with pytest.raises(ProofError):
        merkle.verify_consistency(
            6, 10, merkle.consistency_proof(6, rewritten), ROOTS[6], merkle.root_hash(rewritten)
        )


# ---------------------------------------------------------------------------------------
# Properties: every valid proof verifies, and every small change to it is caught
# ---------------------------------------------------------------------------------------

EXAMPLES = settings(max_examples=150)


@st.composite
def leaf_in_tree(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    size = draw(st.integers(min_size, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def tree_and_older_tree(draw: st.DrawFn) -> tuple[int, int]:
    """Sizes 0 < old < new: those that need a real consistency proof."""
    new_size = draw(st.integers(2, MAX_SIZE))
    return draw(st.integers(1, new_size - 1)), new_size


@EXAMPLES
@given(leaves=st.lists(st.binary(max_size=16), min_size=1, max_size=300), data=st.data())
def test_any_inclusion_proof_in_any_tree_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(entry) for entry in leaves]
    index = data.draw(st.integers(0, len(hashes) - 1))
    root = merkle.root_hash(hashes)
    merkle.verify_inclusion(
        hashes[index], index, len(hashes), merkle.inclusion_proof(index, hashes), root
    )


@EXAMPLES
@given(leaves=st.lists(st.binary(max_size=16), max_size=300), data=st.data())
def test_any_consistency_proof_in_any_tree_verifies(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(entry) for entry in leaves]
    old_size = data.draw(st.integers(0, len(hashes)))
    merkle.verify_consistency(
        old_size,
        len(hashes),
        merkle.consistency_proof(old_size, hashes),
        merkle.root_hash(hashes[:old_size]),
        merkle.root_hash(hashes),
    )


@EXAMPLES
@given(claim=leaf_in_tree(min_size=2), data=st.data())
def test_flipped_bit_in_inclusion_proof_is_rejected(
    claim: tuple[int, int], data: st.DataObject
) -> None:
    index, size = claim
    made = merkle.inclusion_proof(index, LEAVES[:size])
    position = data.draw(st.integers(0, len(made) - 1))
    made[position] = flip_bit(made[position], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(LEAVES[index], index, size, made, ROOTS[size])


@EXAMPLES
@given(claim=leaf_in_tree(), bit=st.integers(0, 255), flip_root=st.booleans())
def test_flipped_bit_in_leaf_or_root_is_rejected(
    claim: tuple[int, int], bit: int, flip_root: bool
) -> None:
    index, size = claim
    leaf, root = LEAVES[index], ROOTS[size]
    if flip_root:
        root = flip_bit(root, bit)
    else:
        leaf = flip_bit(leaf, bit)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            leaf, index, size, merkle.inclusion_proof(index, LEAVES[:size]), root
        )


@EXAMPLES
@given(claim=leaf_in_tree(), other=st.integers(-2, MAX_SIZE + 2))
def test_inclusion_proof_for_another_index_is_rejected(claim: tuple[int, int], other: int) -> None:
    index, size = claim
    assume(other != index)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            LEAVES[index], other, size, merkle.inclusion_proof(index, LEAVES[:size]), ROOTS[size]
        )


@EXAMPLES
@given(claim=leaf_in_tree(), other_size=st.integers(1, MAX_SIZE))
def test_inclusion_proof_checked_against_a_tree_of_another_size_is_rejected(
    claim: tuple[int, int], other_size: int
) -> None:
    # A size always comes with its own root (both are in the signed checkpoint), so the
    # claim to refute is "leaf `index` is in the tree of `other_size` with this root".
    index, size = claim
    assume(other_size != size)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            LEAVES[index],
            index,
            other_size,
            merkle.inclusion_proof(index, LEAVES[:size]),
            ROOTS[other_size],
        )


@EXAMPLES
@given(claim=leaf_in_tree(), data=st.data())
def test_truncated_or_extended_inclusion_proof_is_rejected(
    claim: tuple[int, int], data: st.DataObject
) -> None:
    index, size = claim
    made = merkle.inclusion_proof(index, LEAVES[:size])
    truncate = data.draw(st.booleans(), label="truncate")
    if made and truncate:
        del made[data.draw(st.integers(0, len(made) - 1), label="drop at")]
    else:
        extra = data.draw(st.sampled_from([*LEAVES[:4], ROOTS[size], bytes(32)]), label="extra")
        made.insert(data.draw(st.integers(0, len(made)), label="insert at"), extra)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(LEAVES[index], index, size, made, ROOTS[size])


@EXAMPLES
@given(sizes=tree_and_older_tree(), data=st.data())
def test_flipped_bit_in_consistency_proof_is_rejected(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    made = merkle.consistency_proof(old_size, LEAVES[:new_size])
    position = data.draw(st.integers(0, len(made) - 1))
    made[position] = flip_bit(made[position], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, made, ROOTS[old_size], ROOTS[new_size])


@EXAMPLES
@given(sizes=tree_and_older_tree(), bit=st.integers(0, 255), flip_old=st.booleans())
def test_flipped_bit_in_either_root_is_rejected(
    sizes: tuple[int, int], bit: int, flip_old: bool
) -> None:
    old_size, new_size = sizes
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    if flip_old:
        old_root = flip_bit(old_root, bit)
    else:
        new_root = flip_bit(new_root, bit)
    made = merkle.consistency_proof(old_size, LEAVES[:new_size])
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, made, old_root, new_root)


@EXAMPLES
@given(sizes=tree_and_older_tree(), other=tree_and_older_tree())
def test_consistency_proof_checked_against_other_sizes_is_rejected(
    sizes: tuple[int, int], other: tuple[int, int]
) -> None:
    # As with inclusion, each claimed size comes with its own root.
    assume(other != sizes)
    made = merkle.consistency_proof(sizes[0], LEAVES[: sizes[1]])
    old_size, new_size = other
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, made, ROOTS[old_size], ROOTS[new_size])


@EXAMPLES
@given(sizes=tree_and_older_tree(), data=st.data())
def test_truncated_or_extended_consistency_proof_is_rejected(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    made = merkle.consistency_proof(old_size, LEAVES[:new_size])
    if data.draw(st.booleans(), label="truncate"):
        del made[data.draw(st.integers(0, len(made) - 1), label="drop at")]
    else:
        extra = data.draw(st.sampled_from([*LEAVES[:4], ROOTS[old_size], bytes(32)]), label="extra")
        made.insert(data.draw(st.integers(0, len(made)), label="insert at"), extra)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, made, ROOTS[old_size], ROOTS[new_size])
