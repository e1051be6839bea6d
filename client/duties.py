"""What a subscription answers by itself, for its party: receipts, and liveness checks.

A client confirms receipt of each notice from the other party (``notice.received`` is
logged once, for the first), and, when told to, answers each liveness check that asks its
own party (``check.answered``). Both are owed from the event that asks for them until the
event that settles them (a decision or cancellation, an answer or a miss), and both are
safe to repeat, so they are sent at least once:

- only once the channel is caught up with its log: an old request replayed from the log
  may have been settled long ago, which a later event of the replay will show;
- again after a reconnection, if no answer came back on the socket that carried them;
- again with the channel's next event, if the server was too busy to take them (429).

Any other refusal drops the duty and is logged: it is not the subscription's to fix.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from client.protocol import messages
from client.protocol.schemas import Event
from client.protocol.vocabulary import EventType

__all__ = ["Duties", "Duty"]

log = logging.getLogger("client.live")

_TOO_BUSY = 429


class Duty(StrEnum):
    """Something a client owes the server on its party's behalf."""

    RECEIPT = "receipt"
    """Confirm receipt of a notice from the other party."""
    ANSWER = "answer"
    """Answer a liveness check that asks this client's party."""


_SETTLED_BY: dict[EventType | str, Duty] = {
    EventType.NOTICE_RECEIVED: Duty.RECEIPT,
    EventType.NOTICE_ACKNOWLEDGED: Duty.RECEIPT,
    EventType.NOTICE_OBJECTED: Duty.RECEIPT,
    EventType.NOTICE_CANCELLED: Duty.RECEIPT,
    EventType.CHECK_ANSWERED: Duty.ANSWER,
    EventType.CHECK_MISSED: Duty.ANSWER,
}
_SUBJECT = {Duty.RECEIPT: "notice", Duty.ANSWER: "check"}
"""The key of the event's data that names what a duty is about."""


@dataclass(frozen=True, slots=True)
class _Owed:
    duty: Duty
    channel: str


class Duties:
    """The receipts and check answers one subscription owes, and those it has sent.

    Args:
        receipts: confirm receipt of notices from the other party.
        checks: answer liveness checks that ask this client's party.
    """

    def __init__(self, *, receipts: bool, checks: bool) -> None:
        self._kept = {d for d, on in ((Duty.RECEIPT, receipts), (Duty.ANSWER, checks)) if on}
        self._owed: dict[UUID, _Owed] = {}  # a notice's or a check's id -> what it is owed
        self._asked: dict[str, UUID] = {}  # sent on this connection, by the message's ref
        self._refs = itertools.count(1)

    def on_event(self, event: Event, party: str) -> None:
        """Note what ``event`` asks of ``party`` (this client's), or settles."""
        duty = self._asked_by(event, party)
        if duty is None:
            duty = _SETTLED_BY.get(event.type)
            if duty is not None and (subject := _subject(event, duty)) is not None:
                self._owed.pop(subject, None)
            return
        subject = _subject(event, duty)
        if subject is not None:
            self._owed[subject] = _Owed(duty, event.channel)

    def _asked_by(self, event: Event, party: str) -> Duty | None:
        """The duty ``event`` starts for ``party``, if this client keeps it."""
        if event.type is EventType.NOTICE_SENT:
            duty = Duty.RECEIPT
            ours = event.actor is None or event.actor.party == party
        elif event.type is EventType.CHECK_REQUESTED:
            duty = Duty.ANSWER
            ours = event.data.get("party") != party  # only a check asking this party
        else:
            return None
        return None if ours or duty not in self._kept else duty

    def due(self, channel: str) -> list[BaseModel]:
        """The messages to send now for ``channel``, each with a fresh ``ref``.

        Call it only when the channel is caught up with its log.
        """
        asked = set(self._asked.values())
        found: list[BaseModel] = []
        for subject, owed in list(self._owed.items()):
            if owed.channel != channel or subject in asked:
                continue
            ref = f"{owed.duty.value[0]}{next(self._refs)}"  # r1, a2: apart from commands' c3
            self._asked[ref] = subject
            if owed.duty is Duty.RECEIPT:
                found.append(messages.ReceiptMessage(ref=ref, channel=channel, notice=subject))
            else:
                found.append(messages.AnswerCheckMessage(ref=ref, channel=channel, check=subject))
        return found

    def answered(self, ref: str) -> bool:
        """The server carried out the message ``ref``: its duty is done. False if not ours."""
        subject = self._asked.pop(ref, None)
        if subject is None:
            return False
        self._owed.pop(subject, None)
        return True

    def refused(self, ref: str, status: int, detail: str) -> bool:
        """The server refused the message ``ref``; False if it was not one of ours.

        Too busy (429): the duty stays owed and goes again with the channel's next event.
        Anything else drops it, logged: answering a check too late is worth a warning.
        """
        subject = self._asked.pop(ref, None)
        if subject is None:
            return False
        owed = self._owed.get(subject)
        if status == _TOO_BUSY or owed is None:
            return True
        del self._owed[subject]
        if owed.duty is Duty.ANSWER:
            log.warning("could not answer check %s on %s: %s", subject, owed.channel, detail)
        else:
            log.info("a receipt was refused: %s", detail)
        return True

    def disconnected(self) -> None:
        """The socket closed: what it carried without an answer is sent again on the next."""
        self._asked.clear()


def _subject(event: Event, duty: Duty) -> UUID | None:
    raw = event.data.get(_SUBJECT[duty])
    if not isinstance(raw, str):
        return None
    try:
        return UUID(raw)
    except ValueError:
        return None
