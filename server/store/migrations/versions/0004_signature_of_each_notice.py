"""The sender's signature of each notice, beside the notice's state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 15:00:00

A send retried under the same notice id is a repeat only if it is signed as the logged
one was: the rules compare the retry's signature with the stored one, without reading
the log. Notices signed before this revision get their signature from their
``notice.sent`` event.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_notices = sa.table(
    "notices",
    sa.column("id", sa.Uuid),
    sa.column("channel_id", sa.String),
    sa.column("sent_seq", sa.Integer),
    sa.column("signature", sa.Text),
)
_events = sa.table(
    "events",
    sa.column("channel_id", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("data", sa.Text),
)


def upgrade() -> None:
    op.add_column("notices", sa.Column("signature", sa.Text(), nullable=True))
    connection = op.get_bind()
    sent = (
        sa.select(_notices.c.id, _events.c.data)
        .join(
            _events,
            sa.and_(
                _events.c.channel_id == _notices.c.channel_id,
                _events.c.seq == _notices.c.sent_seq,
            ),
        )
        .where(_events.c.data.like('%"signature"%'))  # only signed ones need reading
    )
    for notice_id, data in connection.execute(sent):
        signature = json.loads(data).get("signature")
        if signature is not None:
            connection.execute(
                sa.update(_notices).where(_notices.c.id == notice_id).values(signature=signature)
            )


def downgrade() -> None:
    op.drop_column("notices", "signature")
