"""Planning: plans (a draft generation plus who and what), their history and planned worker
assignments; a version per area for optimistic locking; scheduled generations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE generation_status ADD VALUE IF NOT EXISTS 'scheduled' BEFORE 'active'")
    op.drop_constraint("ck_generations_dates", "generations", type_="check")
    op.create_check_constraint("ck_generations_dates", "generations",
                               "effective_to IS NULL OR effective_to >= effective_from")
    op.add_column("areas", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    plan_status = postgresql.ENUM("open", "published", "discarded", name="plan_status")
    plan_status.create(op.get_bind())
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("area_code", sa.String(length=15), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("status", postgresql.ENUM(name="plan_status", create_type=False), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["generation_id"], ["generations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "plan_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("grids", postgresql.JSONB(astext_type=sa.Text()), server_default="[]",
                  nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_events_plan", "plan_events", ["plan_id", "id"], unique=False)
    op.create_table(
        "plan_assignments",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("worker_code", sa.String(length=40), nullable=False),
        sa.Column("role", postgresql.ENUM(name="worker_role", create_type=False), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "grid_code", "worker_code", "role"),
    )
    op.create_table(
        "plan_units",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("community", sa.String(length=15), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("buildings", postgresql.JSONB(astext_type=sa.Text()), server_default="[]",
                  nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(srid=4326, spatial_index=False,
                                                     from_text="ST_GeomFromEWKT", name="geometry",
                                                     nullable=False),
                  nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "id"),
    )
    op.create_index("ix_plan_units_plan_community", "plan_units", ["plan_id", "community"],
                    unique=False)
    op.create_index("ix_plan_units_geom", "plan_units", ["geom"], unique=False,
                    postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ix_plan_units_geom", table_name="plan_units", postgresql_using="gist")
    op.drop_index("ix_plan_units_plan_community", table_name="plan_units")
    op.drop_table("plan_units")
    op.drop_table("plan_assignments")
    op.drop_index("ix_plan_events_plan", table_name="plan_events")
    op.drop_table("plan_events")
    op.drop_table("plans")
    postgresql.ENUM(name="plan_status").drop(op.get_bind())
    op.drop_column("areas", "version")
    op.drop_constraint("ck_generations_dates", "generations", type_="check")
    op.create_check_constraint("ck_generations_dates", "generations",
                               "effective_to IS NULL OR effective_to > effective_from")
    # PostgreSQL cannot drop an enum value; 'scheduled' stays in generation_status
