"""Leaves and the compact range a client keeps instead of the whole log."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.protocol import merkle
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin

EVENT = {
    "channel": "water-roads",
    "seq": 1,
    "type": "notice.sent",
    "at": "2026-11-21T09:30:00.000Z",
    "actor": {"party": "water", "operator": "ana"},
    "data": {"subject": "Hydrant test, Mill Lane", "area": None},
}


def leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(str(n).encode()) for n in range(count)]


def test_a_leaf_is_the_canonical_json_whatever_order_the_keys_came_in() -> None:
    reordered = dict(reversed(list(EVENT.items())))

    assert leaf_bytes(reordered) == leaf_bytes(EVENT)
    assert leaf_bytes(EVENT).startswith(b'{"actor":{"operator":"ana","party":"water"}')
    assert event_hash(EVENT) == hashlib.sha256(b"\x00" + leaf_bytes(EVENT)).digest()


def test_an_origin_names_the_log_and_the_channel() -> None:
    assert origin("hotline.example", "water-roads") == "hotline.example/water-roads"


@pytest.mark.parametrize("size", range(65))
def test_a_compact_range_folds_to_the_root_of_its_leaves(size: int) -> None:
    built = CompactRange()
    built.extend(leaves(size))

    assert built.size == size
    assert len(built.hashes) == size.bit_count()
    assert built.root() == merkle.root_hash(leaves(size))


@given(st.integers(min_value=1, max_value=300))
def test_the_inclusion_proof_of_a_last_leaf_is_the_range_before_it(size: int) -> None:
    everything = leaves(size)
    proof = merkle.inclusion_proof(size - 1, everything)

    built = CompactRange.from_inclusion_proof(size, proof, everything[-1])

    assert built.root() == merkle.root_hash(everything)


def test_a_compact_range_survives_json() -> None:
    built = CompactRange()
    built.extend(leaves(11))

    assert CompactRange.from_json(built.to_json()) == built


def test_a_range_with_the_wrong_number_of_hashes_is_refused() -> None:
    with pytest.raises(ValueError, match="one hash per bit"):
        CompactRange(3, leaves(1))
