"""RFC 8785 canonical JSON (JCS), fast for the values Hotline's events are made of.

JCS fixes one byte string per JSON value: keys sorted, no spaces, strings escaped in one
way, numbers spelled as ECMAScript spells them. Leaves of the Merkle tree and signed
statements are hashed over these bytes, so both sides must produce them exactly.

The ``rfc8785`` package does it for any value, in pure Python. For most values Python's
own ``json.dumps`` (written in C) already writes the same bytes: with sorted keys,
compact separators and ``ensure_ascii=False`` it escapes exactly the characters JCS
escapes (``"``, ``\\``, the control characters, with the same short forms and lower-case
``\\u00xx``) and spells integers the same way. They differ only for

- floating-point numbers (JCS spells ``1e21`` and ``0.1`` as ECMAScript does, Python
  does not);
- integers beyond ±2^53, which JCS refuses;
- keys outside the Basic Multilingual Plane mixed with keys above U+E000: JCS sorts by
  UTF-16 code units, Python by code points; with ASCII keys the orders agree;
- strings with lone surrogates, which are not Unicode: ``rfc8785`` refuses them.

:func:`canonical_json` checks that a value is in the part where both agree (every key
ASCII, every number an integer within ±2^53, every string encodable) and takes the fast
way; anything else goes to ``rfc8785``. Events and signed statements are always in that
part, so in practice every leaf is the fast way; a test checks both ways agree on random
values.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["canonical_json"]

_SAFE_INTEGER = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` writes ``value`` exactly as JCS does."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.isascii() or not _has_surrogate(value)
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return False  # floats, and anything JSON has no word for: JCS decides


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of a JSON value, as UTF-8 bytes.

    Raises:
        rfc8785.CanonicalizationError: the value has no canonical form (a lone
            surrogate, an integer beyond ±2^53, a float that is not finite).
    """
    if _plain(value):
        return _encode(value).encode("utf-8")
    return rfc8785.dumps(value)
