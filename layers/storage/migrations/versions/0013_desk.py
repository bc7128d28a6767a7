"""The dispatcher's desk: every new case event sends NOTIFY gridmap_cases (the desk's live
updates, whatever wrote it — the workflow, escalation, an import), workflow actions and remote
responses carry the client's Idempotency-Key, so a resent click is answered, not repeated, and
the desk's queue is read by index (deadline order, each case's merged duplicates).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("case_events", sa.Column("idempotency_key", sa.String(length=100), nullable=True))
    op.create_index("uq_case_events_idempotency", "case_events", ["idempotency_key"], unique=True)
    # the desk counts each case's merged duplicates: without it, a queue of 1,000 cases read the
    # 168k-case history once per row (31 s on the full demo)
    op.create_index("ix_cases_duplicate_of", "cases", ["duplicate_of"], unique=False,
                    postgresql_where=sa.text("duplicate_of IS NOT NULL"))
    # and reads its page nearest deadline first in index order, not by sorting the history
    op.create_index("ix_cases_deadline", "cases", ["deadline", "created_at"], unique=False)
    op.add_column("case_responses",
                  sa.Column("idempotency_key", sa.String(length=100), nullable=True))
    op.create_index("uq_case_responses_idempotency", "case_responses", ["idempotency_key"],
                    unique=True)
    # one notification per statement (a bulk COPY of a case history sends one, not 168k)
    op.execute("""
        CREATE FUNCTION gridmap_cases_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gridmap_cases', TG_OP);
            RETURN NULL;
        END $$;
        CREATE TRIGGER case_events_added AFTER INSERT ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION gridmap_cases_changed();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS case_events_added ON case_events; "
               "DROP FUNCTION IF EXISTS gridmap_cases_changed();")
    op.drop_index("uq_case_responses_idempotency", table_name="case_responses")
    op.drop_column("case_responses", "idempotency_key")
    op.drop_index("ix_cases_deadline", table_name="cases")
    op.drop_index("ix_cases_duplicate_of", table_name="cases")
    op.drop_index("uq_case_events_idempotency", table_name="case_events")
    op.drop_column("case_events", "idempotency_key")
