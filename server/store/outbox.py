"""The delivery worker's queries: claim what is due with a lease, record how each try went.

The outbox (``deliveries``) is written by the single writer, in the transaction of the
event that causes each row (``server/store/ledger.py``). The delivery worker
(``server/service/deliveries.py``) empties it through the functions here, each in a
short transaction of its own on a connection of the engine's pool, never the writer's
(SQLAlchemy Core, each statement built once: no ORM objects to keep in step):

- :func:`claim` takes up to ``limit`` rows that are waiting, due, and not held by anyone,
  and holds them for a while (a **lease**, ``leased_until``), in one statement::

      UPDATE deliveries SET leased_until = :until, attempts = attempts + 1
      WHERE id IN (SELECT id FROM deliveries
                   WHERE status = 'waiting' AND next_attempt_at <= :now
                     AND (leased_until IS NULL OR leased_until <= :now) AND kind IN (…)
                   ORDER BY next_attempt_at LIMIT :limit
                   FOR UPDATE SKIP LOCKED)
      RETURNING …

  On PostgreSQL, ``SKIP LOCKED`` lets two processes claim at the same moment without
  waiting for each other or taking the same row: each skips the rows the other is
  claiming. On SQLite the clause is left out (SQLAlchemy does): the ``UPDATE`` takes the
  database's one write lock, so there is no second claimant to skip. Once committed, the
  lease keeps every other process off the row until it ends; a process that dies while
  sending simply never records, and when the lease is over the row is anybody's again.
  The try is counted at the claim, not after: a delivery that kills whoever sends it
  still runs out of tries.
- :func:`record` writes, for a claimed batch in one transaction, each try
  (``delivery_attempts``) and what follows (the row delivered, skipped, failed for good, or
  waiting for its next try), the lease cleared. A row is only changed by the claim that
  holds it: the update asks for the try number the claim gave it (``attempts``) and a row
  still ``waiting``. If the lease ran out and another process claimed the row since, or the
  subscription was disabled meanwhile (``server/store/reach.py`` fails its waiting rows),
  the late record keeps the attempt, as a fact, and changes nothing else.
- :func:`release` gives back the leases of a batch whose worker is stopping before it
  could record (a server shutting down), so that the rows need not wait for the lease.
- :func:`waiting` counts the rows waiting (the ``hotline_deliveries_waiting`` gauge) and says
  when the next one can be claimed, so that the worker sleeps until then.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.dml import ReturningUpdate

from server.store.models import DeliveryAttemptRow, DeliveryRow, UTCDateTime

__all__ = [
    "Claimed",
    "Outcome",
    "Status",
    "attempt_rows",
    "claim",
    "give_up_unreported",
    "record",
    "release",
    "state_rows",
    "waiting",
]

Status = Literal["waiting", "delivered", "failed", "skipped"]
"""Where a delivery stands. Only ``waiting`` is ever claimed."""

_D = DeliveryRow.__table__.c
_WAITING = _D.status == literal_column("'waiting'")
"""Written out, not a parameter: so that PostgreSQL's generic plans (prepared statements)
use the partial index ``ix_deliveries_waiting``, whose condition this is."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed with a lease; ``attempt`` is the number of this try, from 1."""

    id: uuid.UUID
    kind: str
    channel: str
    seq: int
    event_type: str
    target: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """One try of a claimed delivery, and the state it leaves the delivery in."""

    id: uuid.UUID
    attempt: int
    """The try number the claim gave it: the record applies only while it still holds."""
    at: datetime
    """When the try began."""
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    status: Status
    next_attempt_at: datetime | None = None
    """When ``waiting``: the next try's time."""


def _kinds_in(kinds: Collection[str]) -> ColumnElement[bool]:
    # Our own names (``webhook``, ``mail``), written out: a statement per set of kinds,
    # compiled once, rather than a list parameter expanded at every execution.
    if not all(kind.isidentifier() for kind in kinds):
        raise ValueError(f"not a delivery kind: {sorted(kinds)}")
    return _D.kind.in_([literal_column(f"'{kind}'") for kind in sorted(kinds)])


@functools.cache
def _claim(kinds: frozenset[str]) -> ReturningUpdate[Any]:
    now = bindparam("now", type_=UTCDateTime())
    due = (
        select(_D.id)
        .where(
            _WAITING,
            _D.next_attempt_at <= now,
            or_(_D.leased_until.is_(None), _D.leased_until <= now),
            _D.attempts < bindparam("most"),
            _kinds_in(kinds),
        )
        .order_by(_D.next_attempt_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)  # left out on SQLite, which has no row locks
    )
    return (
        update(DeliveryRow)
        .where(_D.id.in_(due.scalar_subquery()))
        .values(leased_until=bindparam("until", type_=UTCDateTime()), attempts=_D.attempts + 1)
        .returning(_D.id, _D.kind, _D.channel_id, _D.seq, _D.event_type, _D.target, _D.attempts)
    )


async def claim(
    connection: AsyncConnection,
    *,
    now: datetime,
    until: datetime,
    limit: int,
    kinds: Collection[str],
    most: int = 2**31 - 1,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of ``kinds`` until ``until``.

    Args:
        connection: in a transaction of its own, committed by the caller at once: the
            claim holds nothing until then.
        now: the time: rows due at or before it, and leases over by it, are taken.
        until: when the lease ends.
        limit: the most rows to take.
        kinds: only rows of these kinds (those this process can send).
        most: only rows tried fewer times than this (``delivery_attempts``).

    Returns:
        The rows claimed, by channel and sequence number.
    """
    if not kinds or limit < 1:
        return []
    values = {"now": now, "until": until, "limit": limit, "most": most}
    rows = (await connection.execute(_claim(frozenset(kinds)), values)).all()
    claimed = [Claimed(*row) for row in rows]
    return sorted(claimed, key=lambda c: (c.channel, c.seq, str(c.id)))


_INSERT_ATTEMPTS = insert(DeliveryAttemptRow)
_RECORD = (
    update(DeliveryRow)
    .where(
        _D.id == bindparam("b_id"),
        _D.attempts == bindparam("b_attempt"),
        _WAITING,
    )
    .values(
        status=bindparam("b_status"),
        # A finished row keeps the time it was last due (None: leave it as it is).
        next_attempt_at=func.coalesce(bindparam("b_next", type_=UTCDateTime()), _D.next_attempt_at),
        finished_at=bindparam("b_finished", type_=UTCDateTime()),
        last_error=bindparam("b_error"),
        leased_until=bindparam("b_lease", type_=UTCDateTime()),
    )
)
_RELEASE = (
    update(DeliveryRow)
    .where(_D.id == bindparam("b_id"), _D.attempts == bindparam("b_attempt"), _WAITING)
    .values(leased_until=None, attempts=bindparam("b_counted"))
)


async def record(
    connection: AsyncConnection, outcomes: Sequence[Outcome], *, now: datetime
) -> None:
    """Write the tries of a claimed batch and the state each leaves its delivery in.

    Args:
        connection: in the transaction that records the batch, committed by the caller.
        outcomes: one per claimed delivery that was tried.
        now: when the batch finished: ``finished_at`` of those no longer waiting.
    """
    if not outcomes:
        return
    await connection.execute(_INSERT_ATTEMPTS, attempt_rows(outcomes))
    await connection.execute(_RECORD, state_rows(outcomes, now=now))


def attempt_rows(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The ``delivery_attempts`` rows of these tries."""
    return [
        {
            "delivery_id": o.id,
            "at": o.at,
            "ok": o.ok,
            "status_code": o.status_code,
            "error": o.error,
            "duration_ms": o.duration_ms,
        }
        for o in outcomes
    ]


def state_rows(outcomes: Sequence[Outcome], *, now: datetime) -> list[dict[str, Any]]:
    """The parameters that record what each try leaves its delivery in, the lease cleared
    (for :func:`record`, and for the writer's own statement, ``Statements.record_deliveries``)."""
    return [
        {
            "b_id": o.id,
            "b_attempt": o.attempt,
            "b_status": o.status,
            "b_next": o.next_attempt_at if o.status == "waiting" else None,
            "b_finished": None if o.status == "waiting" else now,
            "b_error": None if o.status == "delivered" else o.error,
            "b_lease": None,
        }
        for o in outcomes
    ]


async def release(
    connection: AsyncConnection, claimed: Sequence[Claimed], *, tried: bool = True
) -> None:
    """Give back leases held but not recorded.

    Args:
        connection: in a transaction, committed by the caller.
        claimed: the rows.
        tried: whether a send may have begun (the worker stopping mid-send): the try stays
            counted, and whatever was sent meanwhile may be sent again, by whoever claims
            the row next, under the same id (a receiver drops the repeat). ``False``: none
            was (too little of the lease was left to begin one), and the try is uncounted.
    """
    if claimed:
        rows = [
            {"b_id": c.id, "b_attempt": c.attempt, "b_counted": c.attempt - (not tried)}
            for c in claimed
        ]
        await connection.execute(_RELEASE, rows)


_EXHAUSTED = "no try was ever recorded: the sender never reported (did it stop the process?)"


@functools.cache
def _give_up_unreported(kinds: frozenset[str]) -> Any:
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(DeliveryRow)
        .where(
            _WAITING,
            _D.attempts >= bindparam("most"),
            _D.leased_until.is_not(None),
            _D.leased_until <= now,
            _kinds_in(kinds),
        )
        .values(status="failed", finished_at=now, leased_until=None, last_error=_EXHAUSTED)
    )


async def give_up_unreported(
    connection: AsyncConnection, *, now: datetime, most: int, kinds: Collection[str]
) -> int:
    """Fail the deliveries whose every try was claimed and none reported back: each lease
    ran out with nothing recorded (a send that stops its process, time after time), so
    that they do not come back for ever. Returns how many."""
    if not kinds:
        return 0
    values = {"now": now, "most": most}
    result = await connection.execute(_give_up_unreported(frozenset(kinds)), values)
    return int(getattr(result, "rowcount", 0) or 0)


@functools.cache
def _waiting(kinds: frozenset[str]) -> Select[int, datetime]:
    free_at = case(
        (_D.leased_until > _D.next_attempt_at, _D.leased_until), else_=_D.next_attempt_at
    )
    mine = case((_kinds_in(kinds), free_at), else_=None)
    # type_coerce: read MIN(CASE …) as the columns are read (SQLite hands back text).
    return select(func.count(), type_coerce(func.min(mine), UTCDateTime())).where(_WAITING)


async def waiting(
    connection: AsyncConnection, *, kinds: Collection[str]
) -> tuple[int, datetime | None]:
    """How many deliveries are waiting (of any kind), and when one of ``kinds`` is next free.

    A waiting row is free to claim once it is due and its lease, if any, is over: the later
    of ``next_attempt_at`` and ``leased_until``.

    Returns:
        The count, and that time (``None``: nothing of ``kinds`` waits).
    """
    count, free = (await connection.execute(_waiting(frozenset(kinds)))).one()
    return int(count), free
