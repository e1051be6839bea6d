"""The delivery worker: sends what the outbox holds, tries again, and records every try.

The outbox (``server/domain/outbox.py`` decides what goes in it, ``server/store/ledger.py``
writes it) is a table of deliveries written in the transaction of the event that causes
each: a webhook call, a mail. This module empties it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Outgoing", "Sender", "Sent"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed delivery, as the worker hands it to a sender."""

    id: uuid.UUID
    """Stable: the ``webhook-id``, the mail's ``Message-ID``; a receiver drops repeats by it."""
    kind: str
    """``webhook`` or ``mail``: which sender it goes to."""
    channel: str
    seq: int
    """The event that caused it."""
    event_type: str
    target: str
    """A webhook's id, ``operator:<id>`` or ``party:<id>``."""
    attempt: int
    """The number of this try, from 1."""


@dataclass(frozen=True, slots=True)
class Sent:
    """How one try went, as a sender tells the worker."""

    ok: bool
    status_code: int | None = None
    """The receiver's answer (an HTTP status, an SMTP reply code), if there was one."""
    error: str | None = None
    """What went wrong (or why it was skipped), short, never a secret."""
    permanent: bool = False
    """Do not try again (``410 Gone``, an address the mail server refuses)."""
    skipped: bool = False
    """Nothing to send (nobody has an address, the party is online): not tried again."""


class Sender(Protocol):
    """Sends deliveries of one kind. Loads what it needs itself (the event, the address)."""

    async def send(self, delivery: Outgoing) -> Sent:
        """Try once; report how it went rather than raise."""
        ...
