"""Channels, notices and the log: the tables of the channel core.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:05:14.700031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_a", sa.String(length=64), nullable=False),
        sa.Column("party_b", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_a"], ["parties.id"], name=op.f("fk_channels_party_a_parties")
        ),
        sa.ForeignKeyConstraint(
            ["party_b"], ["parties.id"], name=op.f("fk_channels_party_b_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
    )
    op.create_index(op.f("ix_channels_party_a"), "channels", ["party_a"], unique=False)
    op.create_index(op.f("ix_channels_party_b"), "channels", ["party_b"], unique=False)
    op.create_table(
        "operators",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_operators_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
    )
    op.create_index(op.f("ix_operators_party_id"), "operators", ["party_id"], unique=False)
    op.create_table(
        "events",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_party", sa.String(length=64), nullable=True),
        sa.Column("actor_operator", sa.String(length=64), nullable=True),
        sa.Column("notice_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_events_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("channel_id", "seq", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_notice_id"), "events", ["notice_id"], unique=False)
    op.create_table(
        "notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("sent_seq", sa.Integer(), nullable=False),
        sa.Column("sender_party", sa.String(length=64), nullable=False),
        sa.Column("sender_operator", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("area", sa.String(length=200), nullable=True),
        sa.Column("ack_required", sa.Boolean(), nullable=False),
        sa.Column("refers_to", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by", sa.String(length=64), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_notices_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_channel_seq", "notices", ["channel_id", "sent_seq"], unique=False)
    op.create_index("ix_notices_status_due", "notices", ["status", "ack_due_at"], unique=False)
    op.create_table(
        "tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_tokens_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_index(op.f("ix_tokens_operator_id"), "tokens", ["operator_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tokens_operator_id"), table_name="tokens")
    op.drop_table("tokens")
    op.drop_index("ix_notices_status_due", table_name="notices")
    op.drop_index("ix_notices_channel_seq", table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_events_notice_id"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_operators_party_id"), table_name="operators")
    op.drop_table("operators")
    op.drop_index(op.f("ix_channels_party_b"), table_name="channels")
    op.drop_index(op.f("ix_channels_party_a"), table_name="channels")
    op.drop_table("channels")
    op.drop_table("parties")
