"""What every vector module needs: base64, and what the Python code says of a vector."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

Vector = dict[str, Any]

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def with_stray_bits(text: str) -> str:
    """Base64 ending in one '=' respelled with a low bit set that must be zero.

    The digit before a single '=' holds two bits past the last byte; a strict reader takes
    only the spelling where both are 0.
    """
    assert text.endswith("=")
    assert not text.endswith("==")
    return text[:-2] + _DIGITS[_DIGITS.index(text[-2]) | 1] + "="


def outcome(check: Callable[[], object]) -> dict[str, str | None]:
    """What the Python code says of a vector: no error, or the error's class and message."""
    try:
        check()
    except ValueError as error:
        return {"error": type(error).__name__, "message": str(error)}
    return {"error": None, "message": None}
