"""The fast canonical JSON writes the bytes the rfc8785 package writes, or defers to it."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from client.protocol.canonical import canonical_json

KEYS = st.text(max_size=6) | st.sampled_from(["a", "b", "\ue000", "\U0001f600", "é", ""])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as error:  # what it refuses, the fast way must refuse too
        return type(error)


def assert_written_as_jcs(value: Any) -> None:
    """The bytes rfc8785 writes, or the error it raises."""
    expected = reference(value)
    if isinstance(expected, bytes):
        assert canonical_json(value) == expected
    else:
        with pytest.raises(expected):
            canonical_json(value)


@given(VALUES)
def test_every_json_value_is_written_as_the_rfc8785_package_writes_it(value: Any) -> None:
    assert_written_as_jcs(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"]},
        {"text": 'tab\there, quote " backslash \\ nul \x00 del \x7f line sep \u2028'},
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order differs from code point order
        {"big": 2**53, "float": 1e21, "small": 0.1},
        {"lone": "\ud800"},
    ],
)
def test_the_values_where_json_and_jcs_part_ways_are_written_the_jcs_way(value: Any) -> None:
    assert_written_as_jcs(value)
