"""Server-side sessions of the pages (the cookie holds a random session id, not the credential),
and idempotency keys bound to the caller who sent them: a case records who reported it, and the
keys of visits, patrols, tasks and grid-task steps are as long as a case's (100).

A change to a session (signed out, revoked) sends NOTIFY gridmap_users like a change to the users
table, so every API process forgets the sign-ins it holds in memory at once.

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None

KEYED = ("visits", "patrols", "tasks")


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"], unique=False)
    # a sign-out or a revocation reaches every process's memory (an insert changes nothing held)
    op.execute("""
        CREATE TRIGGER web_sessions_changed AFTER UPDATE OR DELETE OR TRUNCATE ON web_sessions
            FOR EACH STATEMENT EXECUTE FUNCTION gridmap_users_changed();
    """)
    op.add_column("cases", sa.Column("reported_by", sa.String(length=100), nullable=True))
    op.execute("""
        UPDATE cases c SET reported_by = e.actor FROM case_events e
        WHERE e.case_id = c.id AND e.action = 'report'
    """)
    for table in KEYED:
        op.alter_column(table, "key", type_=sa.String(length=100),
                        existing_type=sa.String(length=80), existing_nullable=True)
    op.add_column("grid_task_events", sa.Column("key", sa.String(length=100), nullable=True))
    op.create_unique_constraint("grid_task_events_key_key", "grid_task_events", ["key"])


def downgrade() -> None:
    op.drop_constraint("grid_task_events_key_key", "grid_task_events", type_="unique")
    op.drop_column("grid_task_events", "key")
    for table in KEYED:
        op.alter_column(table, "key", type_=sa.String(length=80),
                        existing_type=sa.String(length=100), existing_nullable=True)
    op.drop_column("cases", "reported_by")
    op.execute("DROP TRIGGER IF EXISTS web_sessions_changed ON web_sessions")
    op.drop_index("ix_web_sessions_user", table_name="web_sessions")
    op.drop_table("web_sessions")
