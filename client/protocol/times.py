"""Times on the wire: RFC 3339, always UTC, always to the millisecond.

A time has one spelling, ``2026-11-21T09:30:00.123Z``, so that the same event always
serialises to the same bytes (the verifiable log hashes those bytes). Times are therefore
kept to the millisecond everywhere: whatever finer digits a client sends are dropped when
the time is parsed, before anything is stored or compared.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_time", "parse_time", "to_millisecond", "utc_now"]


def to_millisecond(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, cut to whole milliseconds.

    Raises:
        ValueError: ``moment`` has no time zone; a naive time is ambiguous on the wire.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time must carry a time zone (use Z for UTC)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:  # as a ValueError, schemas report it as invalid input
        raise ValueError("time is out of range") from exc
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """The current time in UTC, to the millisecond."""
    return to_millisecond(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """Spell ``moment`` the one way the protocol does: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = to_millisecond(moment)
    # f-string fields rather than strftime, whose %Y does not pad years before 1000.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_time(text: str) -> datetime:
    """Read an RFC 3339 time with a zone, to the millisecond in UTC."""
    return to_millisecond(datetime.fromisoformat(text))
