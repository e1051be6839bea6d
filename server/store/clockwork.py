"""The clock's part of a writer batch: due actions claimed and written, checks, admins.

Everything the server does on its own is a row of ``due_actions`` (``server/domain/clock.py``
says which actions follow which). A batch that fires them first **claims** the rows whose
time has come::

    SELECT … FROM due_actions WHERE due_at <= :now ORDER BY due_at, id LIMIT :n
    FOR UPDATE SKIP LOCKED

before it locks any channel, so that a claim never waits: on PostgreSQL a row another
process is firing is locked, and skipped; on SQLite the clause is left out, since the
batch's ``BEGIN IMMEDIATE`` holds the database's one write lock and there is no second
claimant. A claimed row is deleted in the transaction that fires it, so once that commits
nobody can claim it again: each due action fires exactly once.

A row whose firing fails (``commands.fire_due`` fires them one at a time to find it) is
**set aside**: its ``due_at`` is put later, in a transaction of its own, so that the rows
due after it still fire and it is tried again then. It is never deleted unfired.

The due actions a command starts (a send's ``overdue``, the next reminder) and the rows
of the checks its events ask, answer or miss are kept here until the batch writes: one
statement per table, like the rest of the batch.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Dialect

from client.protocol.vocabulary import Role
from server.domain.checks import evolve_check
from server.domain.clock import Due, DueKind
from server.domain.events import CheckAnswered, CheckMissed, CheckRequested, LogEvent
from server.domain.model import Check
from server.store.links import Link
from server.store.models import CheckRow, DueActionRow, OperatorRow
from server.store.prepared import Prepared

__all__ = ["NOTICE_KINDS", "Claim", "Claimed", "ClockStatements", "Clockwork", "due_row"]

NOTICE_KINDS = frozenset({DueKind.OVERDUE, DueKind.REMIND, DueKind.ESCALATE})
"""The due actions about a notice: firing one needs the notice."""


@dataclass(frozen=True, eq=False)
class Claim:
    """A command's claim on the due actions whose time has come (compared by identity).

    Args:
        now: claim those due at this moment or before.
        limit: claim this many at most.
        row: claim only this row, if it is due (one due action fired on its own).
    """

    now: datetime
    limit: int
    row: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due action claimed by a batch, with the id of its row."""

    row: uuid.UUID
    due: Due


def due_row(due: Due) -> dict[str, Any]:
    """A new row of ``due_actions`` for ``due``."""
    return {
        "id": uuid.uuid4(),
        "channel_id": due.channel,
        "kind": due.kind.value,
        "subject": due.subject,
        "n": due.n,
        "due_at": due.due_at,
    }


_DUE_COLUMNS = ("id", "channel_id", "kind", "subject", "n", "due_at")
_CHECK_COLUMNS = tuple(c.name for c in CheckRow.__table__.columns)
_CHECK_CHANGES = ("answered_at", "answered_by", "missed_at")


class ClockStatements:
    """The clock's statements compiled for one database (see ``server/store/prepared.py``).

    Args:
        dialect: the dialect of the writer's connection.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        dues = DueActionRow.__table__.columns
        claim = (
            select(*(dues[name] for name in _DUE_COLUMNS))
            .where(dues.due_at <= bindparam("now", type_=dues.due_at.type))
            .order_by(dues.due_at, dues.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        columns = [dues[name] for name in _DUE_COLUMNS]
        self.claim = Prepared(claim, dialect, columns=columns)
        self.claim_row = Prepared(
            claim.where(dues.id == bindparam("row", type_=dues.id.type)), dialect, columns=columns
        )
        self.insert_dues = Prepared(insert(DueActionRow), dialect, keys=_DUE_COLUMNS)
        self.delete_dues = Prepared(
            delete(DueActionRow).where(DueActionRow.id == bindparam("row")), dialect
        )
        self.set_aside = Prepared(
            update(DueActionRow)
            .where(DueActionRow.id == bindparam("row"))
            .values(due_at=bindparam("until")),
            dialect,
        )
        self.insert_checks = Prepared(insert(CheckRow), dialect, keys=_CHECK_COLUMNS)
        self.update_checks = Prepared(
            update(CheckRow)
            .where(CheckRow.id == bindparam("check"))
            .values({name: bindparam(name) for name in _CHECK_CHANGES}),
            dialect,
        )

    @functools.cache  # noqa: B019 - one ClockStatements per writer, for the writer's life
    def checks(self, count: int) -> Prepared:
        """Read ``count`` checks (``k0``, ``k1``, …) by id."""
        table = CheckRow.__table__
        ids = [bindparam(f"k{n}", type_=CheckRow.id.type) for n in range(count)]
        return Prepared(
            select(table).where(table.c.id.in_(ids)), self.dialect, columns=list(table.columns)
        )

    @functools.cache  # noqa: B019
    def admins(self, count: int) -> Prepared:
        """The admins of ``count`` parties (``p0``, ``p1``, …), by party then id."""
        columns = OperatorRow.__table__.columns
        return Prepared(
            select(columns.party_id, columns.id)
            .where(
                columns.role == Role.ADMIN.value,
                columns.party_id.in_([bindparam(f"p{n}") for n in range(count)]),
            )
            .order_by(columns.party_id, columns.id),
            self.dialect,
            columns=[columns.party_id, columns.id],
        )


def check_of_row(row: Mapping[str, Any]) -> Check:
    """A row of ``checks`` as the domain's ``Check``."""
    return Check(
        id=row["id"],
        channel=row["channel_id"],
        party=row["party"],
        due_at=row["due_at"],
        requested_at=row["requested_at"],
        answer_by=row["answer_by"],
        answered_at=row["answered_at"],
        answered_by=row["answered_by"],
        missed_at=row["missed_at"],
    )


class Clockwork:
    """What one batch claimed, read and will write for the clock.

    Args:
        statements: the clock's statements for this database.
    """

    def __init__(self, statements: ClockStatements) -> None:
        self.statements = statements
        self._claimed: dict[Claim, list[Claimed]] = {}
        self._checks: dict[uuid.UUID, Check | None] = {}
        self._check_seqs: dict[uuid.UUID, int] = {}
        self._new_checks: set[uuid.UUID] = set()
        self._changed_checks: set[uuid.UUID] = set()
        self._admins: dict[str, tuple[str, ...]] = {}
        self._schedule: list[Due] = []
        self._fired: list[uuid.UUID] = []
        self._set_aside: dict[uuid.UUID, datetime] = {}

    # -- reads, when the batch opens -------------------------------------------------------

    async def claim(self, link: Link, claims: Sequence[Claim]) -> list[Claimed]:
        """Claim the due actions of each claim in turn; returns all of them.

        Two claims of one batch never take one row twice: the rows a batch claimed are
        locked by it already (PostgreSQL skips only other transactions' locks), so each
        claim asks for as many more as were claimed before it, and leaves those out.
        """
        taken: set[uuid.UUID] = set()
        every: list[Claimed] = []
        for claim in claims:
            values = {"now": claim.now, "limit": claim.limit + len(taken)}
            if claim.row is None:
                rows = await link.fetch(self.statements.claim, values)
            else:
                rows = await link.fetch(self.statements.claim_row, {**values, "row": claim.row})
            mine = [
                Claimed(
                    row["id"],
                    Due(
                        DueKind(row["kind"]),
                        row["channel_id"],
                        row["subject"],
                        row["due_at"],
                        row["n"],
                    ),
                )
                for row in rows
                if row["id"] not in taken
            ][: claim.limit]
            taken.update(item.row for item in mine)
            self._claimed[claim] = mine
            every.extend(mine)
        return every

    async def read_checks(self, link: Link, check_ids: Collection[uuid.UUID]) -> None:
        """Read the checks named (those the batch does not hold already)."""
        wanted = [i for i in dict.fromkeys(check_ids) if i not in self._checks]
        if not wanted:
            return
        self._checks.update(dict.fromkeys(wanted))
        params = {f"k{n}": check for n, check in enumerate(wanted)}
        for row in await link.fetch(self.statements.checks(len(wanted)), params):
            self._checks[row["id"]] = check_of_row(row)
            self._check_seqs[row["id"]] = row["requested_seq"]

    async def read_admins(self, link: Link, parties: Collection[str]) -> None:
        """Read the admins of ``parties``: whom escalations go to when nobody is on duty."""
        wanted = sorted(set(parties) - self._admins.keys())
        if not wanted:
            return
        params = {f"p{n}": party for n, party in enumerate(wanted)}
        found: dict[str, list[str]] = {party: [] for party in wanted}
        for row in await link.fetch(self.statements.admins(len(wanted)), params):
            found[row["party_id"]].append(row["id"])
        self._admins.update({party: tuple(ids) for party, ids in found.items()})

    # -- what the commands call: all in memory -------------------------------------------

    def claimed(self, claim: Claim) -> list[Claimed]:
        """The due actions ``claim`` took, in due order.

        Raises:
            LookupError: the claim was not made when the batch was opened.
        """
        if claim not in self._claimed:
            raise LookupError("the claim was not made when the batch was opened")
        return self._claimed[claim]

    def check(self, check_id: uuid.UUID) -> Check | None:
        """The check with this id, as this batch has left it so far.

        Raises:
            LookupError: the id was not among the batch's ``check_ids``.
        """
        if check_id not in self._checks:
            raise LookupError(f"check {check_id} was not named when the batch was opened")
        return self._checks[check_id]

    def check_seq(self, check_id: uuid.UUID) -> int:
        """The sequence number of a check's ``check.requested`` event.

        Raises:
            KeyError: the batch holds no such check.
        """
        return self._check_seqs[check_id]

    @property
    def admins(self) -> Mapping[str, tuple[str, ...]]:
        """The admins of the parties the claimed escalations concern, by party."""
        return self._admins

    def schedule(self, dues: Iterable[Due]) -> None:
        """Keep due actions, to be written with the batch."""
        self._schedule.extend(dues)

    def fired(self, claimed: Claimed) -> None:
        """A claimed due action was fired: its row goes with the batch."""
        self._fired.append(claimed.row)

    def set_aside(self, row: uuid.UUID, until: datetime) -> None:
        """Put off a due action whose firing failed until ``until``, so that others fire."""
        self._set_aside[row] = until

    def record(self, channel_id: str, seq: int, event: LogEvent) -> None:
        """Fold an event of a check into the check's row (other events are left alone)."""
        if not isinstance(event, CheckRequested | CheckAnswered | CheckMissed):
            return
        before = None if isinstance(event, CheckRequested) else self.check(event.check_id)
        after = evolve_check(before, event, channel=channel_id)
        if isinstance(event, CheckRequested):
            self._new_checks.add(after.id)
            self._check_seqs[after.id] = seq
        else:
            self._changed_checks.add(after.id)
        self._checks[after.id] = after

    # -- writes ---------------------------------------------------------------------------

    async def write(self, link: Link) -> None:
        """Send the rows the batch's commands produced: one statement per kind."""
        statements = self.statements
        if self._fired:
            await link.run_many(statements.delete_dues, [{"row": row} for row in self._fired])
        if self._schedule:
            await link.run_many(statements.insert_dues, [due_row(d) for d in self._schedule])
        if self._set_aside:
            rows = [{"row": row, "until": until} for row, until in self._set_aside.items()]
            await link.run_many(statements.set_aside, rows)
        checks = {i: c for i, c in self._checks.items() if c is not None}
        if self._new_checks:
            rows = [
                _check_columns(checks[i], self._check_seqs[i]) for i in sorted(self._new_checks)
            ]
            await link.run_many(statements.insert_checks, rows)
        changed = sorted(self._changed_checks - self._new_checks)
        if changed:
            rows = [
                {"check": i, **{name: getattr(checks[i], name) for name in _CHECK_CHANGES}}
                for i in changed
            ]
            await link.run_many(statements.update_checks, rows)


def _check_columns(check: Check, seq: int) -> dict[str, Any]:
    return {
        "id": check.id,
        "channel_id": check.channel,
        "party": check.party,
        "due_at": check.due_at,
        "requested_at": check.requested_at,
        "requested_seq": seq,
        "answer_by": check.answer_by,
        "answered_at": check.answered_at,
        "answered_by": check.answered_by,
        "missed_at": check.missed_at,
    }
