"""An index of the operators' key registrations in each channel's log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:00:00

Signed commands look up the signing operator's key in force: its last
``operator.key_registered`` event on the channel. The index is partial, so that it holds
those events only and writing any other event costs nothing more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS_ONLY = sa.text("type = 'operator.key_registered'")


def upgrade() -> None:
    op.create_index(
        "ix_events_keys",
        "events",
        ["channel_id", "actor_operator", "seq"],
        sqlite_where=_KEYS_ONLY,
        postgresql_where=_KEYS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_events_keys", table_name="events")
