"""The outbox: what must leave the server because of an event, and when to try again.

Whatever reaches the world outside the channel's own sockets (a webhook call to another
system, a mail to an operator) is decided here, from the events a batch has just
appended, and written in the *same transaction* as those events (``server/store/ledger.py``):
what was never committed is never sent, and what was committed cannot be lost, since the
row saying it must be sent is committed with it. A delivery worker sends each row after
the commit, and tries again on failure (``server/service/deliveries.py``). That is the
*transactional outbox* pattern; docs/explanation/outbox.md tells the story.

Each delivery's id is stable: a function of the event, the kind and the target, so that
the same event can never owe the same target two deliveries, and a receiver that is sent
one twice (the worker died after sending, before recording) knows it by its id (the
``webhook-id`` header, the mail's ``Message-ID``).

Retries wait longer and longer (exponential back-off), each wait drawn at random below
its ceiling (*full jitter*), so that many deliveries failing at once (a receiver down)
do not all come back at once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from client.protocol import schemas
from client.protocol.times import format_time
from client.protocol.vocabulary import EventType
from server.domain.model import Channel

__all__ = [
    "Delivery",
    "DeliveryKind",
    "MailSwitch",
    "WebhookTarget",
    "deliveries",
    "delivery_id",
    "give_up",
    "retry_delay",
]

_NAMESPACE = uuid.UUID("6f0e1a52-3c1b-4f6e-9d0a-5b7c2e8f4a11")
"""Hotline's own namespace for the ids of deliveries (any fixed UUID would do)."""


class DeliveryKind(StrEnum):
    """How a delivery leaves the server."""

    WEBHOOK = "webhook"
    MAIL = "mail"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A party's enabled subscription to a channel's events, as the writer knows it."""

    id: str
    party: str
    types: tuple[str, ...] = ()
    """The event types it wants; empty: all of them."""

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type goes to it."""
        return not self.types or event_type in self.types


@dataclass(frozen=True, slots=True)
class MailSwitch:
    """Mail is on in this server (SMTP is configured), and how it treats unseen notices."""

    offline_after: timedelta = timedelta(seconds=60)
    """How long a notice may wait unseen before the receiving party is mailed (where the
    channel's policy asks for it)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing that must leave the server: a row of the outbox."""

    id: uuid.UUID
    kind: DeliveryKind
    channel: str
    seq: int
    """The event that caused it."""
    event_type: str
    target: str
    """A webhook's id, ``operator:<id>`` (one person) or ``party:<id>`` (a party's operators)."""
    due_at: datetime
    """When it may first be sent."""


def delivery_id(
    channel: str, seq: int, kind: DeliveryKind, target: str, *, at: datetime
) -> uuid.UUID:
    """The stable id of the delivery of an event to a target (a UUID version 5).

    The event is named by its channel, its sequence number and its time (``at``, to the
    millisecond): the same on every retry, and different for the event of the same number
    in a database started afresh (a demo), whose mail a mail system would otherwise take
    for a repeat.
    """
    return uuid.uuid5(_NAMESPACE, f"{channel}/{seq}/{format_time(at)}/{kind.value}/{target}")


def _delivery(event: schemas.Event, kind: DeliveryKind, target: str, due_at: datetime) -> Delivery:
    return Delivery(
        id=delivery_id(event.channel, event.seq, kind, target, at=event.at),
        kind=kind,
        channel=event.channel,
        seq=event.seq,
        event_type=str(event.type),
        target=target,
        due_at=due_at,
    )


_MAILED_TO_OPERATORS = frozenset({EventType.NOTICE_ESCALATED, EventType.CHECK_MISSED})
"""Events mailed to the operators they name in ``to`` (an escalation goes to people)."""


def deliveries(
    events: Sequence[schemas.Event],
    *,
    channel: Channel,
    webhooks: Sequence[WebhookTarget],
    mail: MailSwitch | None,
    now: datetime,
) -> list[Delivery]:
    """What must leave the server because a channel's log gained ``events``.

    - **Webhooks**: every event to every subscription of the channel that wants its type.
      Either party may read the whole log of a channel it is on, so a party's subscription
      is sent what its sockets would be sent: everything.
    - **Mail** (only when ``mail`` is on): an escalation (``notice.escalated``) and a missed
      check (``check.missed``) to each operator they went ``to``, at once; a notice sent
      (``notice.sent``) on a channel whose policy says ``mail_when_offline``, to the
      receiving party, ``mail.offline_after`` later: the worker then sends it only if the
      notice is still unseen and nobody of that party is connected.

    Args:
        events: the events just appended to ``channel``'s log, in order.
        channel: the channel, with the policy in force after them.
        webhooks: the channel's enabled subscriptions.
        mail: whether (and how) this server mails; ``None``: it does not.
        now: the batch's time.

    Returns:
        The deliveries, in the order of the events.
    """
    found: list[Delivery] = []
    for event in events:
        for hook in webhooks:
            if hook.wants(str(event.type)):
                found.append(_delivery(event, DeliveryKind.WEBHOOK, hook.id, now))
        if mail is None:
            continue
        if event.type in _MAILED_TO_OPERATORS:
            for operator in dict.fromkeys(event.data.get("to") or ()):
                found.append(_delivery(event, DeliveryKind.MAIL, f"operator:{operator}", now))
        elif event.type == EventType.NOTICE_SENT and channel.policy.mail_when_offline:
            sender = event.actor.party if event.actor is not None else None
            for party in channel.parties:
                if party != sender:
                    due = now + mail.offline_after
                    found.append(_delivery(event, DeliveryKind.MAIL, f"party:{party}", due))
    return found


def retry_delay(attempt: int, *, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """How long to wait after failed try number ``attempt`` (from 1) before the next.

    Exponential back-off with full jitter: a wait drawn uniformly from zero to
    ``min(cap, base * 2 ** (attempt - 1))``. The ceiling doubles with each failure, up to
    ``cap``; drawing below it spreads out deliveries that failed together.

    Raises:
        ValueError: ``attempt`` is below 1.
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    # In float seconds, the exponent bounded: base * 2 ** n as a timedelta overflows long
    # before any cap is reached by a large base (an hour, 36 doublings).
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2.0 ** min(attempt - 1, 64))
    return timedelta(seconds=ceiling * rng.random())


def give_up(attempt: int, *, attempts: int) -> bool:
    """Whether failed try number ``attempt`` was the last of ``attempts`` allowed."""
    return attempt >= attempts
