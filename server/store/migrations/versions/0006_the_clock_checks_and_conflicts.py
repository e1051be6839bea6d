"""The one clock's queue, liveness checks, conflicting plans and the policy both parties agree to.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:00:00

- ``due_actions``: what the server will do on its own, and when. Every notice still
  waiting for its acknowledgement deadline (``sent`` or ``delivered`` with an
  ``ack_due_at``) gets its ``overdue`` action, so that the scheduler, which replaces the
  deadline sweep, marks it as the sweep would have.
- Notices already ``overdue`` get no ``remind`` or ``escalate`` action: their deadline
  passed under a version that did not chase, and starting the chase at upgrade time would
  send a burst of late reminders about notices everybody has seen go overdue. Notices that
  go overdue from now on are chased by the policy.
- ``notices.reminded`` and ``notices.escalated_at``: how far the chase of a notice has
  gone, so that a second copy of a reminder or an escalation logs nothing. Every notice
  starts at 0 and null, with no backfill: no ``notice.reminded`` or ``notice.escalated``
  event was logged before this revision (the deadline sweep it replaces only marked
  notices overdue).
- ``checks`` and ``conflicts``: the state of each liveness check and each pair of
  clashing plans, folded from their events (empty: no such events were logged before).
- ``notices.area_key`` (the area as compared, filled in for every notice with an area;
  text of any length, like ``conflicts.area``, since case-folding may lengthen an area of
  200 characters: ``ß`` folds to ``ss``) and ``notices.bbox``, with an index of the
  plans of an area by their end and a partial one of the updates of a notice (which
  replace its plan); ``channels.policy_id`` and
  ``channels.proposal``; a partial index of the ``channel.policy_changed`` events, which
  say since when the policy in force holds, and one of the ``channel.policy_proposed``
  events, which say which proposal ids a channel has used.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFERS = sa.text("refers_to IS NOT NULL")
_POLICY_CHANGES = sa.text("type = 'channel.policy_changed'")
_PROPOSALS = sa.text("type = 'channel.policy_proposed'")
_notices = sa.table(
    "notices",
    sa.column("id", sa.Uuid),
    sa.column("channel_id", sa.String),
    sa.column("area", sa.String),
    sa.column("area_key", sa.String),
    sa.column("status", sa.String),
    sa.column("ack_due_at", sa.DateTime(timezone=True)),
)
_dues = sa.table(
    "due_actions",
    sa.column("id", sa.Uuid),
    sa.column("channel_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("subject", sa.Uuid),
    sa.column("n", sa.Integer),
    sa.column("due_at", sa.DateTime(timezone=True)),
)


def _area_key(label: str) -> str:
    # As server.domain.conflicts.area_key spells it today; a migration keeps its own copy,
    # so that it means the same however the code changes later.
    return " ".join(label.split()).casefold()


def upgrade() -> None:
    op.create_table(
        "due_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Uuid(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_due_actions_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_actions")),
    )
    op.create_index(op.f("ix_due_actions_due_at"), "due_actions", ["due_at"], unique=False)
    op.create_table(
        "checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_seq", sa.Integer(), nullable=False),
        sa.Column("answer_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_checks_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checks")),
    )
    op.create_index(
        "ix_checks_channel_requested", "checks", ["channel_id", "requested_at"], unique=False
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("notice_a", sa.Uuid(), nullable=False),
        sa.Column("notice_b", sa.Uuid(), nullable=False),
        sa.Column("area", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_seq", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_seq", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_conflicts_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(op.f("ix_conflicts_notice_a"), "conflicts", ["notice_a"], unique=False)
    op.create_index(op.f("ix_conflicts_notice_b"), "conflicts", ["notice_b"], unique=False)
    op.add_column("channels", sa.Column("policy_id", sa.Uuid(), nullable=True))
    op.add_column("channels", sa.Column("proposal", sa.Text(), nullable=True))
    op.add_column("notices", sa.Column("area_key", sa.Text(), nullable=True))
    op.add_column("notices", sa.Column("bbox", sa.Text(), nullable=True))
    op.add_column(
        "notices",
        sa.Column("reminded", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("notices", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_notices_channel_area_ends",
        "notices",
        ["channel_id", "area_key", "ends_at"],
        unique=False,
    )
    op.create_index(
        "ix_notices_refers_to",
        "notices",
        ["refers_to"],
        sqlite_where=_REFERS,
        postgresql_where=_REFERS,
    )
    op.create_index(
        "ix_events_policy",
        "events",
        ["channel_id", "seq"],
        sqlite_where=_POLICY_CHANGES,
        postgresql_where=_POLICY_CHANGES,
    )
    op.create_index(
        "ix_events_proposals",
        "events",
        ["channel_id", "seq"],
        sqlite_where=_PROPOSALS,
        postgresql_where=_PROPOSALS,
    )
    connection = op.get_bind()
    areas = connection.execute(
        sa.select(_notices.c.id, _notices.c.area).where(_notices.c.area.is_not(None))
    ).all()
    if areas:
        connection.execute(
            sa.update(_notices)
            .where(_notices.c.id == sa.bindparam("notice"))
            .values(area_key=sa.bindparam("key")),
            [{"notice": notice_id, "key": _area_key(area)} for notice_id, area in areas],
        )
    waiting = connection.execute(
        sa.select(_notices.c.id, _notices.c.channel_id, _notices.c.ack_due_at).where(
            _notices.c.status.in_(["sent", "delivered"]), _notices.c.ack_due_at.is_not(None)
        )
    ).all()
    if waiting:
        connection.execute(
            sa.insert(_dues),
            [
                {
                    "id": uuid.uuid4(),
                    "channel_id": channel_id,
                    "kind": "overdue",
                    "subject": notice_id,
                    "n": 0,
                    "due_at": due_at,
                }
                for notice_id, channel_id, due_at in waiting
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_events_proposals", table_name="events")
    op.drop_index("ix_events_policy", table_name="events")
    op.drop_index("ix_notices_refers_to", table_name="notices")
    op.drop_index("ix_notices_channel_area_ends", table_name="notices")
    op.drop_column("notices", "escalated_at")
    op.drop_column("notices", "reminded")
    op.drop_column("notices", "bbox")
    op.drop_column("notices", "area_key")
    op.drop_column("channels", "proposal")
    op.drop_column("channels", "policy_id")
    op.drop_index(op.f("ix_conflicts_notice_b"), table_name="conflicts")
    op.drop_index(op.f("ix_conflicts_notice_a"), table_name="conflicts")
    op.drop_table("conflicts")
    op.drop_index("ix_checks_channel_requested", table_name="checks")
    op.drop_table("checks")
    op.drop_index(op.f("ix_due_actions_due_at"), table_name="due_actions")
    op.drop_table("due_actions")
