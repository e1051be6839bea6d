"""The Merkle tree of each channel's log: its complete perfect subtrees.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:00:00

Logs written before this migration get their trees when the server next starts
(``server.service.log.build_missing``): a leaf is the canonical JSON of the event as the
API serves it, which is the application's business, not the migration's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_log_nodes_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("channel_id", "level", "idx", name=op.f("pk_log_nodes")),
    )


def downgrade() -> None:
    op.drop_table("log_nodes")
