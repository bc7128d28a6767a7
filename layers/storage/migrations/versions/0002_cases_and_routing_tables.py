"""Cases, their events and photos; versioned routing tables (categories, departments); holidays.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "routing_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=30), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("category_code", sa.String(length=20), nullable=False),
        sa.Column("routing_version_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("building_code", sa.String(length=40), nullable=True),
        sa.Column("camera_code", sa.String(length=40), nullable=True),
        sa.Column("snapshot_url", sa.String(length=500), nullable=True),
        sa.Column("reporter", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "reported",
                "registered",
                "dispatched",
                "processing",
                "resolved",
                "verified",
                "closed",
                "cancelled",
                "suspended",
                "merged",
                name="case_status",
            ),
            nullable=False,
        ),
        sa.Column("suspended_from", postgresql.ENUM(name="case_status", create_type=False), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("generation_id", sa.Integer(), nullable=True),
        sa.Column("assignee_worker_code", sa.String(length=40), nullable=True),
        sa.Column("department_code", sa.String(length=20), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("supervised", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "hours_to_close",
            sa.Float(),
            sa.Computed("EXTRACT(epoch FROM closed_at - created_at) / 3600", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["routing_version_id"],
            ["routing_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no"),
    )
    op.create_index("ix_cases_category", "cases", ["category_code"], unique=False)
    op.create_index("ix_cases_created", "cases", ["created_at"], unique=False)
    op.create_index("ix_cases_geom", "cases", ["geom"], unique=False, postgresql_using="gist")
    op.create_index("ix_cases_grid", "cases", ["grid_code"], unique=False)
    op.create_index("ix_cases_status", "cases", ["status"], unique=False)
    op.create_index("uq_cases_idempotency", "cases", ["idempotency_key"], unique=True)
    op.create_index("uq_cases_token", "cases", ["token"], unique=True)
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("big_class", sa.String(length=100), nullable=False),
        sa.Column("handler", sa.String(length=20), nullable=False),
        sa.Column("department_code", sa.String(length=20), nullable=True),
        sa.Column("time_limit_hours", sa.Float(), nullable=False),
        sa.Column("duplicate_radius_m", sa.Float(), nullable=False),
        sa.Column(
            "alert_types", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.CheckConstraint(
            "handler IN ('grid', 'environment', 'safety', 'department')", name="ck_categories_handler"
        ),
        sa.CheckConstraint("time_limit_hours > 0 AND duplicate_radius_m >= 0", name="ck_categories_limits"),
        sa.ForeignKeyConstraint(["version_id"], ["routing_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_categories_version_code", "categories", ["version_id", "code"], unique=True)
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["routing_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_departments_version_code", "departments", ["version_id", "code"], unique=True)
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_ids", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id"], unique=False)
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_photos_case", "photos", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_photos_case", table_name="photos")
    op.drop_table("photos")
    op.drop_index("ix_case_events_case", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("uq_departments_version_code", table_name="departments")
    op.drop_table("departments")
    op.drop_index("uq_categories_version_code", table_name="categories")
    op.drop_table("categories")
    op.drop_index("uq_cases_token", table_name="cases")
    op.drop_index("uq_cases_idempotency", table_name="cases")
    op.drop_index("ix_cases_status", table_name="cases")
    op.drop_index("ix_cases_grid", table_name="cases")
    op.drop_index("ix_cases_geom", table_name="cases", postgresql_using="gist")
    op.drop_index("ix_cases_created", table_name="cases")
    op.drop_index("ix_cases_category", table_name="cases")
    op.drop_table("cases")
    op.drop_table("routing_versions")
    op.drop_table("holidays")
    op.execute("DROP TYPE IF EXISTS case_status")
