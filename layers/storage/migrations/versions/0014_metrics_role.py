"""A ``metrics`` role: the credential Prometheus scrapes /metrics with (and nothing else), so
that the scraper no longer holds an admin token.

Revision ID: 0014
Revises: 0009
Create Date: 2026-11-27
"""

from alembic import op

revision = "0014"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE user_role ADD VALUE IF NOT EXISTS 'metrics'")


def downgrade() -> None:
    # a value cannot be removed from a PostgreSQL enum; 'metrics' stays in user_role
    op.execute("DELETE FROM users WHERE role = 'metrics'")
