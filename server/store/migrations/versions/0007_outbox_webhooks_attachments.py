"""The outbox, webhook subscriptions, operators' e-mail addresses and attachments.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:00:00

- ``deliveries``: the transactional outbox. Each row (a webhook call, a mail) is written
  in the same transaction as the event that causes it; a delivery worker sends it after
  commit and records each try in ``delivery_attempts``. A partial index of the rows still
  waiting, by when they are due, is the worker's claim; finished rows cost it nothing.
- ``webhooks``: each party's subscriptions to a channel's events, their secrets encrypted.
  ``channels.webhooks`` lists a channel's enabled subscriptions (``[]`` for every channel
  now: nobody has subscribed yet), so that the writer knows where an event goes without a
  query.
- ``operators.email``: where an operator's mail goes; null for everybody until set.
- ``notices.attachments``: the files a notice carries (null: none, as for every notice
  so far).
- ``attachments``: which file (stored outside the database, under its SHA-256) was
  uploaded to which channel, by which party, under what name. Empty: no notice could
  carry a file before.

Nothing already logged changes: events keep their bytes, so every proof still verifies.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = sa.text("status = 'waiting'")


def upgrade() -> None:
    op.add_column("operators", sa.Column("email", sa.Text(), nullable=True))
    op.add_column("notices", sa.Column("attachments", sa.Text(), nullable=True))
    op.add_column(
        "channels",
        sa.Column("webhooks", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_webhooks_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_channel_id"), "webhooks", ["channel_id"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_deliveries_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "ix_deliveries_waiting",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=_WAITING,
        postgresql_where=_WAITING,
    )
    op.create_index(
        "ix_deliveries_channel_created", "deliveries", ["channel_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_deliveries_target_created", "deliveries", ["target", "created_at"], unique=False
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_delivery_id"),
        "delivery_attempts",
        ["delivery_id"],
        unique=False,
    )
    op.create_table(
        "attachments",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_attachments_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("channel_id", "sha256", "party", name=op.f("pk_attachments")),
    )


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_index(op.f("ix_delivery_attempts_delivery_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_target_created", table_name="deliveries")
    op.drop_index("ix_deliveries_channel_created", table_name="deliveries")
    op.drop_index("ix_deliveries_waiting", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_webhooks_channel_id"), table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_column("channels", "webhooks")
    op.drop_column("notices", "attachments")
    op.drop_column("operators", "email")
