"""Conflicting plans in a writer batch: the plans of an area, open conflicts, their rows.

A send with an activity window and an area is compared with the plans still active in that
area (``server/domain/conflicts.py``). The batch reads them when it opens, one indexed query
per area (``notices (channel_id, area_key, ends_at)``): the notices of the channel in that
area whose window has not ended, not cancelled, and not replaced by an update (a notice
of the same party, with a window, that refers to it). A send without a window or an area
costs no query at all.

A cancellation, or an update that replaces a plan, resolves that plan's open conflicts: the
batch reads them too, but only for a notice that is a plan, so that cancelling any other
notice costs nothing more.

What the batch's own commands did before (a plan sent, cancelled or replaced earlier in the
same batch, a conflict detected a moment ago) is laid over what was read, so that a later
command sees it, as it sees everything else the earlier ones did. Only the notices the
query answered and those sent in the batch are laid over: any other notice the batch
wrote (a receipt of a plan replaced long ago, say) was left out by the query for a reason
that still holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased

from client.protocol.vocabulary import Status
from server.domain.conflicts import Plan, plan_of, still_active
from server.domain.events import ConflictDetected, ConflictResolved, LogEvent
from server.domain.model import ActivityWindow, Notice, PlanConflict
from server.domain.rules import replaces
from server.store.links import Link
from server.store.models import ConflictRow, NoticeRow
from server.store.prepared import Prepared
from server.store.repository import notice_of_row

__all__ = ["ConflictRecord", "PlanStatements", "Plans", "conflict_of_row"]


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A conflict as stored: its two notices, where and when they clash, and its end."""

    id: uuid.UUID
    channel: str
    notices: tuple[uuid.UUID, uuid.UUID]
    """The earlier notice first, then the one whose sending revealed the conflict."""
    area: str
    overlap: ActivityWindow
    detected_seq: int
    detected_at: datetime
    resolved_seq: int | None = None
    resolved_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    reason: str | None = None
    """``cancelled`` or ``updated`` once resolved."""

    @property
    def open(self) -> bool:
        """Whether it has not been resolved."""
        return self.resolved_at is None

    def conflict(self) -> PlanConflict:
        """As the rules take it."""
        return PlanConflict(self.id, self.channel, self.notices, self.detected_at, self.resolved_at)


def conflict_of_row(row: Mapping[str, Any]) -> ConflictRecord:
    """A row of ``conflicts`` (by column name) as a :class:`ConflictRecord`."""
    return ConflictRecord(
        id=row["id"],
        channel=row["channel_id"],
        notices=(row["notice_a"], row["notice_b"]),
        area=row["area"],
        overlap=ActivityWindow(row["starts_at"], row["ends_at"]),
        detected_seq=row["detected_seq"],
        detected_at=row["detected_at"],
        resolved_seq=row["resolved_seq"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        reason=row["reason"],
    )


def _conflict_columns(record: ConflictRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "channel_id": record.channel,
        "notice_a": record.notices[0],
        "notice_b": record.notices[1],
        "area": record.area,
        "starts_at": record.overlap.starts_at,
        "ends_at": record.overlap.ends_at,
        "detected_seq": record.detected_seq,
        "detected_at": record.detected_at,
        "resolved_seq": record.resolved_seq,
        "resolved_at": record.resolved_at,
        "resolved_by": record.resolved_by,
        "reason": record.reason,
    }


_RESOLUTION = ("resolved_seq", "resolved_at", "resolved_by", "reason")


def _plans_statement() -> Any:
    notices = NoticeRow.__table__
    update_ = aliased(NoticeRow, name="updates")
    replaced = exists().where(
        update_.refers_to == notices.c.id,
        update_.sender_party == notices.c.sender_party,
        update_.starts_at.is_not(None),
    )
    return select(notices).where(
        notices.c.channel_id == bindparam("channel"),
        notices.c.area_key == bindparam("area"),
        notices.c.ends_at > bindparam("now", type_=NoticeRow.ends_at.type),
        notices.c.starts_at.is_not(None),
        notices.c.status != Status.CANCELLED.value,
        ~replaced,
    )


def _open_conflicts_statement() -> Any:
    conflicts = ConflictRow.__table__
    notice = bindparam("notice", type_=ConflictRow.notice_a.type)
    return select(conflicts).where(
        conflicts.c.resolved_at.is_(None),
        or_(conflicts.c.notice_a == notice, conflicts.c.notice_b == notice),
    )


class PlanStatements:
    """The statements of conflicting plans, compiled for one database.

    Args:
        dialect: the dialect of the writer's connection.
    """

    def __init__(self, dialect: Dialect) -> None:
        notices, conflicts = NoticeRow.__table__, ConflictRow.__table__
        self.plans = Prepared(_plans_statement(), dialect, columns=list(notices.columns))
        self.open_conflicts = Prepared(
            _open_conflicts_statement(), dialect, columns=list(conflicts.columns)
        )
        self.insert_conflicts = Prepared(
            insert(ConflictRow), dialect, keys=tuple(c.name for c in conflicts.columns)
        )
        self.resolve_conflicts = Prepared(
            update(ConflictRow)
            .where(ConflictRow.id == bindparam("conflict"))
            .values({name: bindparam(name) for name in _RESOLUTION}),
            dialect,
        )


def _in_area(notice: Notice, key: str) -> bool:
    plan = plan_of(notice)
    return plan is not None and plan.area == key


class Plans:
    """The plans and conflicts one batch read, and the conflict rows it will write.

    Args:
        statements: the statements of conflicting plans for this database.
    """

    def __init__(self, statements: PlanStatements) -> None:
        self.statements = statements
        self._areas: dict[tuple[str, str], dict[uuid.UUID, Notice]] = {}
        self._conflicts: dict[uuid.UUID, ConflictRecord] = {}
        self._of: set[uuid.UUID] = set()
        """The notices whose open conflicts were read (or that were found to have none)."""
        self._new: set[uuid.UUID] = set()
        self._resolved: set[uuid.UUID] = set()

    # -- reads, when the batch opens -------------------------------------------------------

    async def read_areas(
        self, link: Link, areas: Collection[tuple[str, str]], *, now: datetime
    ) -> None:
        """Read the plans still active at ``now`` in each ``(channel, area key)``."""
        for channel_id, key in dict.fromkeys(areas):
            if (channel_id, key) in self._areas:
                continue
            values = {"channel": channel_id, "area": key, "now": now}
            rows = await link.fetch(self.statements.plans, values)
            self._areas[channel_id, key] = {
                row["id"]: notice_of_row(cast(Any, SimpleNamespace(**row))) for row in rows
            }

    async def read_conflicts(self, link: Link, notices: Mapping[uuid.UUID, Notice | None]) -> None:
        """Read the open conflicts of each notice that is a plan.

        Args:
            link: the writer's connection.
            notices: by id, each notice as the batch found it (``None``: not stored yet).
                One that is no plan, or not stored yet, has none stored.
        """
        for notice_id, notice in notices.items():
            if notice_id in self._of:
                continue
            self._of.add(notice_id)
            if notice is None or plan_of(notice) is None:
                continue
            values = {"notice": notice_id}
            for row in await link.fetch(self.statements.open_conflicts, values):
                self._conflicts.setdefault(row["id"], conflict_of_row(row))

    # -- what the commands call: all in memory -------------------------------------------

    def active(
        self,
        channel_id: str,
        key: str,
        *,
        now: datetime,
        written: Iterable[Notice],
        new: Collection[uuid.UUID],
    ) -> list[Plan]:
        """The plans still active in an area, as this batch has left them so far.

        Args:
            channel_id: the channel.
            key: the normalised area.
            now: the batch's time.
            written: the notices the batch's commands wrote so far (any channel).
            new: the ids of those the batch's commands sent (not stored before it).

        Raises:
            LookupError: the area was not named when the batch was opened.
        """
        if (channel_id, key) not in self._areas:
            raise LookupError(f"area {key!r} was not named when the batch was opened")
        read = self._areas[channel_id, key]
        candidates = dict(read)
        later = [n for n in written if n.channel == channel_id]
        for notice in later:
            # A notice the query answered, as the batch has left it (cancelled, say); or a
            # plan sent in this batch. Any other notice written was left out by the query for
            # a reason that still holds (replaced by an update, cancelled, ended, elsewhere):
            # a receipt or a decision of a replaced plan must not bring it back.
            if notice.id in read or (notice.id in new and _in_area(notice, key)):
                candidates[notice.id] = notice
        # Updates sent in this batch replace plans too, those read and those sent before them.
        for update_ in later:
            refers_to = update_.content.refers_to
            if refers_to is not None and replaces(update_, candidates.get(refers_to)):
                del candidates[refers_to]
        plans = [
            plan
            for notice in candidates.values()
            if notice.status is not Status.CANCELLED
            and (plan := plan_of(notice)) is not None
            and still_active(plan, now)
        ]
        return sorted(plans, key=lambda p: (p.window.starts_at, str(p.notice_id)))

    def conflicts_of(self, notice_id: uuid.UUID) -> list[PlanConflict]:
        """The open conflicts of a notice, as this batch has left them so far.

        Raises:
            LookupError: the notice's conflicts were not asked for when the batch opened.
        """
        if notice_id not in self._of:
            raise LookupError(f"notice {notice_id}'s conflicts were not named at the opening")
        return [
            record.conflict()
            for record in sorted(self._conflicts.values(), key=lambda r: r.detected_seq)
            if record.open and notice_id in record.notices
        ]

    def conflict(self, conflict_id: uuid.UUID) -> ConflictRecord | None:
        """A conflict this batch read or detected."""
        return self._conflicts.get(conflict_id)

    def record(self, channel_id: str, seq: int, event: LogEvent) -> None:
        """Fold a conflict's event into its row (other events are left alone)."""
        if isinstance(event, ConflictDetected):
            self._conflicts[event.conflict_id] = ConflictRecord(
                id=event.conflict_id,
                channel=channel_id,
                notices=event.notices,
                area=event.area,
                overlap=event.overlap,
                detected_seq=seq,
                detected_at=event.at,
            )
            self._new.add(event.conflict_id)
        elif isinstance(event, ConflictResolved):
            record = self._conflicts.get(event.conflict_id)
            if record is None:
                raise LookupError(f"conflict {event.conflict_id} was not read by the batch")
            self._conflicts[event.conflict_id] = replace(
                record,
                resolved_seq=seq,
                resolved_at=event.at,
                resolved_by=event.by,
                reason=event.reason,
            )
            self._resolved.add(event.conflict_id)

    # -- writes ---------------------------------------------------------------------------

    async def write(self, link: Link) -> None:
        """Send the conflict rows the batch's commands produced."""
        if self._new:
            rows = [_conflict_columns(self._conflicts[i]) for i in sorted(self._new)]
            await link.run_many(self.statements.insert_conflicts, rows)
        resolved = sorted(self._resolved - self._new)
        if resolved:
            rows = []
            for conflict_id in resolved:
                record = self._conflicts[conflict_id]
                rows.append(
                    {"conflict": conflict_id, **{n: getattr(record, n) for n in _RESOLUTION}}
                )
            await link.run_many(self.statements.resolve_conflicts, rows)
