"""The write path's statements, built once per database and run on the driver's cursor.

See ``server/store/prepared.py`` for why the writer runs its statements this way.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.engine import Dialect

from client.protocol.vocabulary import EventType
from server.store.clockwork import ClockStatements
from server.store.models import (
    ChannelRow,
    DeliveryAttemptRow,
    DeliveryRow,
    EventRow,
    LogNodeRow,
    NoticeRow,
    UTCDateTime,
    WebhookRow,
)
from server.store.plans import PlanStatements
from server.store.prepared import Prepared

__all__ = ["EVENTS_CHANNEL", "Statements", "head_payload"]

EVENTS_CHANNEL = "hotline_events"
"""The PostgreSQL notification channel on which a commit says which log grew, to what."""


def head_payload(channel_id: str, head: int, origin: str) -> str:
    """A notification's payload: ``<channel>:<seq>:<origin>`` (``server/cluster.py`` reads
    it); ``origin`` names the process that committed (it has told its sockets already)."""
    return f"{channel_id}:{head}:{origin}"


# The write path's statements, built once. FOR UPDATE takes PostgreSQL's row locks
# (SQLite, whose batch began with BEGIN IMMEDIATE, holds the whole database's write lock
# already, and SQLAlchemy leaves the clause out there). Channels and notices are named one
# bound parameter each, a statement per count, rather than with an "expanding" IN,
# which SQLAlchemy would render anew for every run.
_CHANNEL_COLUMNS = (
    "id",
    "party_a",
    "party_b",
    "policy",
    "policy_id",
    "proposal",
    "head_seq",
    "webhooks",
)


def _lock_statement(count: int) -> Select[Any]:
    return (
        select(*(ChannelRow.__table__.columns[name] for name in _CHANNEL_COLUMNS))
        .where(ChannelRow.id.in_([bindparam(f"c{n}") for n in range(count)]))
        .order_by(ChannelRow.id)
        .with_for_update()
    )


def _notices_statement(count: int) -> Select[Any]:
    return select(NoticeRow.__table__).where(
        NoticeRow.id.in_([bindparam(f"n{n}", type_=NoticeRow.id.type) for n in range(count)])
    )


_KEY = (
    select(EventRow.__table__)
    .where(
        EventRow.channel_id == bindparam("channel"),
        EventRow.type == EventType.OPERATOR_KEY_REGISTERED.value,
        EventRow.actor_operator == bindparam("operator"),
    )
    .order_by(EventRow.seq.desc())
    .limit(1)
)
_EVENT_COLUMNS = (
    "channel_id",
    "seq",
    "type",
    "at",
    "actor_party",
    "actor_operator",
    "notice_id",
    "data",
)
_NODE_COLUMNS = ("channel_id", "level", "idx", "hash")
_ATTEMPT_COLUMNS = ("delivery_id", "at", "ok", "status_code", "error", "duration_ms")
_DELIVERY_COLUMNS = (
    "id",
    "kind",
    "channel_id",
    "seq",
    "event_type",
    "target",
    "status",
    "attempts",
    "next_attempt_at",
    "leased_until",
    "created_at",
)
_NOTICE_FIELDS = tuple(
    c.name for c in NoticeRow.__table__.columns if c.name not in {"id", "sent_seq"}
)


class Statements:
    """The writer's statements compiled for one database (see ``server/store/prepared.py``).

    Args:
        dialect: the dialect of the writer's connection.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.key = Prepared(_KEY, dialect, columns=list(EventRow.__table__.columns))
        self.insert_events = Prepared(insert(EventRow), dialect, keys=_EVENT_COLUMNS)
        self.insert_nodes = Prepared(insert(LogNodeRow), dialect, keys=_NODE_COLUMNS)
        self.insert_notices = Prepared(
            insert(NoticeRow), dialect, keys=("id", "sent_seq", *_NOTICE_FIELDS)
        )
        self.update_notices = Prepared(
            update(NoticeRow)
            .where(NoticeRow.id == bindparam("notice_id"))
            .values({name: bindparam(name) for name in _NOTICE_FIELDS}),
            dialect,
        )
        self.move_heads = Prepared(
            update(ChannelRow)
            .where(ChannelRow.id == bindparam("channel"))
            .values(head_seq=bindparam("head")),
            dialect,
        )
        self.settle_channels = Prepared(
            update(ChannelRow)
            .where(ChannelRow.id == bindparam("channel"))
            .values(
                policy=bindparam("policy"),
                policy_id=bindparam("policy_id"),
                proposal=bindparam("proposal"),
            ),
            dialect,
        )
        self.insert_deliveries = Prepared(insert(DeliveryRow), dialect, keys=_DELIVERY_COLUMNS)
        self.insert_attempts = Prepared(insert(DeliveryAttemptRow), dialect, keys=_ATTEMPT_COLUMNS)
        self.record_deliveries = Prepared(
            update(DeliveryRow)
            .where(
                DeliveryRow.id == bindparam("b_id"),
                # Only while the claim that tried it holds (server/store/outbox.py).
                DeliveryRow.attempts == bindparam("b_attempt"),
                DeliveryRow.status == "waiting",
            )
            .values(
                status=bindparam("b_status"),
                next_attempt_at=func.coalesce(
                    bindparam("b_next", type_=UTCDateTime()), DeliveryRow.next_attempt_at
                ),
                finished_at=bindparam("b_finished", type_=UTCDateTime()),
                last_error=bindparam("b_error"),
                leased_until=bindparam("b_lease", type_=UTCDateTime()),
            ),
            dialect,
        )
        self.set_webhooks = Prepared(
            update(ChannelRow)
            .where(ChannelRow.id == bindparam("channel"))
            .values(webhooks=bindparam("webhooks")),
            dialect,
        )
        self.disable_webhooks = Prepared(
            update(WebhookRow)
            .where(WebhookRow.id == bindparam("webhook"), WebhookRow.enabled.is_(True))
            .values(enabled=False, disabled_reason=bindparam("reason")),
            dialect,
        )
        self.give_up_deliveries = Prepared(
            update(DeliveryRow)
            .where(DeliveryRow.target == bindparam("target"), DeliveryRow.status == "waiting")
            .values(
                status="failed",
                last_error=bindparam("error"),
                finished_at=bindparam("now"),
                leased_until=bindparam("lease"),
            ),
            dialect,
        )
        # PostgreSQL delivers a NOTIFY when (and only if) its transaction commits, to every
        # listening process, in commit order: how the other server processes learn that a
        # channel's log grew (server/cluster.py). SQLite has nothing like it.
        self.notify_heads: Prepared | None = None
        if dialect.name == "postgresql":
            self.notify_heads = Prepared(
                select(func.pg_notify(EVENTS_CHANNEL, bindparam("payload"))), dialect
            )
        self.clock = ClockStatements(dialect)
        self.plans = PlanStatements(dialect)

    @functools.cache  # noqa: B019 - one Statements per writer, for the writer's life
    def lock(self, count: int) -> Prepared:
        """Lock ``count`` channels (``c0``, ``c1``, …) and read them."""
        table = ChannelRow.__table__.columns
        columns = [table[n] for n in _CHANNEL_COLUMNS]
        return Prepared(_lock_statement(count), self.dialect, columns=columns)

    @functools.cache  # noqa: B019
    def notices(self, count: int) -> Prepared:
        """Read ``count`` notices (``n0``, ``n1``, …) by id."""
        return Prepared(
            _notices_statement(count), self.dialect, columns=list(NoticeRow.__table__.columns)
        )

    @functools.cache  # noqa: B019
    def subtrees(self, count: int, sample: Select[int, int, bytes]) -> Prepared:
        """Read ``count`` perfect subtrees of a tree (``sample`` is the query for them)."""
        table = LogNodeRow.__table__.columns
        return Prepared(sample, self.dialect, columns=[table[n] for n in ("level", "idx", "hash")])
