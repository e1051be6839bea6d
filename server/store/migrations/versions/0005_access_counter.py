"""The access counter: a number that moves whenever who may log in changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00

Each server process keeps the identity behind each token it has seen in memory, and
trusts it only while the ``access`` row of ``counters`` holds the value it had when the
identity was read (``server/store/identities.py``). So every change to ``tokens``,
``operators`` or ``parties`` must move the counter, in the same transaction. Triggers do
it rather than the code that revokes: then no writer can forget, whether it is this
server, ``hotline admin``, another program or a person at a SQL prompt.

PostgreSQL runs its trigger once per statement (revoking a hundred tokens moves the
counter once), on ``TRUNCATE`` too, and even for a statement that changed no row (which
only makes each process look its tokens up again). SQLite has only row triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = ("tokens", "operators", "parties")
"""The tables an identity is read from."""

_BUMP = "UPDATE counters SET value = value + 1 WHERE name = 'access'"


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.execute("INSERT INTO counters (name, value) VALUES ('access', 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hotline_access_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_access_changed"
                f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION hotline_access_changed()"
            )
        return
    for table in WATCHED:
        for change in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_access_{change.lower()} AFTER {change} ON {table}"
                f" BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_access_changed ON {table}")
        op.execute("DROP FUNCTION hotline_access_changed()")
    else:
        for table in WATCHED:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_access_{change}")
    op.drop_table("counters")
