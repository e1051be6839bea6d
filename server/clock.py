"""The server's clock: one reading of "now" that every command and the scheduler share.

Everything the server stamps (an event's ``at``, a deadline, a due action's time) comes
from the :class:`Clock` its :class:`~server.store.db.Database` carries. The server runs on
:class:`SystemClock`; tests hand in a :class:`ManualClock` and move it by hand, so that a
deadline passes without anybody sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from client.protocol.times import to_millisecond, utc_now

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Where the server reads the time."""

    def now(self) -> datetime:
        """The current time: UTC, time-zone aware."""
        ...


class SystemClock:
    """The machine's clock, to the millisecond."""

    def now(self) -> datetime:
        """The current time in UTC, to the millisecond."""
        return utc_now()


class ManualClock:
    """A clock that moves only when told: for tests, and for demos that skip an hour.

    Args:
        start: the time it shows until moved (UTC aware).
    """

    def __init__(self, start: datetime) -> None:
        self._now = to_millisecond(start)

    def now(self) -> datetime:
        """The time it was set to."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Show ``moment`` from now on."""
        self._now = to_millisecond(moment)

    def advance(self, span: timedelta) -> datetime:
        """Move on by ``span``; returns the new time."""
        self._now = to_millisecond(self._now + span)
        return self._now
