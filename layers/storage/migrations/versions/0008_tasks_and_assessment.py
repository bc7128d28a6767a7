"""Department task orders (下单到网格) and worker assessment weights; credentials tied to a
worker or a department.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE user_role ADD VALUE IF NOT EXISTS 'department'")
    op.add_column("users", sa.Column("worker_code", sa.String(length=40), nullable=True))
    op.add_column("users", sa.Column("department", sa.String(length=100), nullable=True))
    op.add_column("patrols", sa.Column("coverage_share", sa.Float(), nullable=True))
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), server_default="[]",
                  nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="GEOMETRY", srid=4326,
                                                     spatial_index=False), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_tasks_department", "tasks", ["department", "created_at"], unique=False)
    op.create_index("ix_tasks_geom", "tasks", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "grid_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("worker_code", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('assigned', 'accepted', 'in_progress', 'done', 'escalated')",
                           name="ck_grid_tasks_status"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grid_tasks_task", "grid_tasks", ["task_id"], unique=False)
    op.create_index("ix_grid_tasks_grid", "grid_tasks", ["grid_code"], unique=False)
    op.create_index("ix_grid_tasks_worker", "grid_tasks", ["worker_code"], unique=False)
    op.create_table(
        "grid_task_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("grid_task_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photos", postgresql.JSONB(astext_type=sa.Text()), server_default="[]",
                  nullable=False),
        sa.ForeignKeyConstraint(["grid_task_id"], ["grid_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grid_task_events_task", "grid_task_events", ["grid_task_id"], unique=False)
    op.create_table(
        "assessment_weights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weights", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("assessment_weights")
    op.drop_index("ix_grid_task_events_task", table_name="grid_task_events")
    op.drop_table("grid_task_events")
    for name in ("ix_grid_tasks_worker", "ix_grid_tasks_grid", "ix_grid_tasks_task"):
        op.drop_index(name, table_name="grid_tasks")
    op.drop_table("grid_tasks")
    op.drop_index("ix_tasks_geom", table_name="tasks", postgresql_using="gist")
    op.drop_index("ix_tasks_department", table_name="tasks")
    op.drop_table("tasks")
    op.drop_column("patrols", "coverage_share")
    op.drop_column("users", "department")
    op.drop_column("users", "worker_code")
    # a value cannot be removed from a PostgreSQL enum; 'department' stays in user_role
