"""Liveness checks: the rule for answering one, and how its events change it.

The clock asks (``check.requested``, see ``clock.py``); any operator of the party asked,
whatever its role, or a client answering on its behalf, answers (``check.answered``);
or the window closes and the clock logs ``check.missed``. An answer is given once for
the party: a second changes nothing and logs nothing, like a second receipt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from client.protocol.times import format_time, to_millisecond
from server.domain.errors import CheckClosed, Forbidden, NotFound
from server.domain.events import CheckAnswered, CheckEvent, CheckMissed, CheckRequested
from server.domain.model import Actor, Channel, Check

__all__ = ["AnswerCheck", "answer_check", "evolve_check"]


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """Somebody of the party asked is listening."""

    check_id: UUID


def answer_check(
    command: AnswerCheck, *, channel: Channel, actor: Actor, check: Check | None, now: datetime
) -> list[CheckAnswered]:
    """Return the event that answers a check, or raise why it cannot be answered.

    Raises:
        NotFound: no such check on this channel.
        Forbidden: the check asks the other party.
        CheckClosed: its answer window has closed.
    """
    now = to_millisecond(now)
    if check is None or check.channel != channel.id:
        raise NotFound(f"no check {command.check_id} in channel {channel.id}")
    if actor.party != check.party:
        raise Forbidden(f"check {check.id} asks {check.party}: only {check.party} answers it")
    if check.answered_at is not None:
        return []  # answered once for the party; later answers change nothing
    if check.missed_at is not None or now > check.answer_by:
        raise CheckClosed(f"check {check.id} had to be answered by {format_time(check.answer_by)}")
    return [CheckAnswered(check.id, now, actor.party, actor.operator, check.requested_at)]


def evolve_check(check: Check | None, event: CheckEvent, *, channel: str) -> Check:
    """The check after one of its events."""
    if isinstance(event, CheckRequested):
        return Check(
            event.check_id,
            channel,
            event.asked,
            event.due_at,
            event.at,
            event.answer_by,
        )
    if check is None:
        raise ValueError(f"{event.type} before check.requested")
    if isinstance(event, CheckAnswered):
        return replace(check, answered_at=event.at, answered_by=event.operator)
    if isinstance(event, CheckMissed):
        return replace(check, missed_at=event.at)
    raise ValueError(f"unknown event {event!r}")  # pragma: no cover - the union is closed
