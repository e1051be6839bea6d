"""The server's clock: one reading of "now" that every command and the scheduler share.

Everything the server stamps (an event's ``at``, a deadline, a due action's time) comes
from the :class:`Clock` its :class:`~server.store.db.Database` carries. The server runs on
:class:`SystemClock`; tests hand in a clock of their own and move it by hand, so that a
deadline passes without anybody sleeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from client.protocol.times import utc_now

__all__ = ["Clock", "SystemClock"]


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
