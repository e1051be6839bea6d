"""Spans of time as people write them: ``7d``, ``2h30m``, ``90s``.

The command line reads them (``--lapses-in 7d``) and prints them (``1 d 12 h``); the wire
always carries whole seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_span", "parse_span"]

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SPAN = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)


def parse_span(text: str) -> timedelta:
    """``7d``, ``12h``, ``90m``, ``45s``, or several at once (``1d12h``); a bare number is seconds.

    Raises:
        ValueError: ``text`` is not such a span, or it is zero.
    """
    compact = text.strip().replace(" ", "")
    if compact.isdigit():
        seconds = int(compact)
    else:
        parts = _SPAN.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise ValueError(f"{text!r} is not a span of time such as 7d, 12h, 30m or 90s")
        scale = {unit: size for unit, size in _UNITS}
        seconds = sum(int(n) * scale[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} is no time at all")
    return timedelta(seconds=seconds)


def format_span(seconds: float) -> str:
    """Whole seconds as the two largest units that say them: ``1 d 12 h``, ``15 min``, ``0 s``.

    Below a minute, fractions of a second are kept to a tenth (``1.2 s``), and below a
    second it is milliseconds (``18 ms``): answers to checks take that long.
    """
    if 0 < seconds < 0.9995:  # what rounds to 1000 ms is said as 1 s
        return f"{round(seconds * 1000)} ms"
    if seconds < 59.95:  # what rounds to 60.0 s is said as 1 min
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    rest = round(seconds)
    words = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            words.append(f"{count} {'min' if unit == 'm' else unit}")
    return " ".join(words[:2])
