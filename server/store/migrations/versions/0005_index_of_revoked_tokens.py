"""An index of the times tokens were revoked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 10:20:00

Every server process looks every few seconds for the tokens revoked since its last look,
to close the WebSockets they opened. With this index that look reads only the tokens
revoked lately, however many tokens were ever issued.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_tokens_revoked_at"), "tokens", ["revoked_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tokens_revoked_at"), table_name="tokens")
