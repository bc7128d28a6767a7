"""Initial schema: generations, areas, buildings, roads, alleys, cameras, sites, workers, users.

Written from the models by autogenerate, then adjusted: PostGIS is created first, and the shared
``worker_role`` enum is created once.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "alleys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_alleys_geom", "alleys", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT')",
            name="ck_buildings_geom_type",
        ),
        sa.CheckConstraint(
            "households >= 0 AND population >= 0 AND floors >= 0", name="ck_buildings_counts"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(
        "ix_buildings_geom", "buildings", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("fixed", "ptz", "panoramic", "loudspeaker", "fume_monitor", name="camera_kind"),
            nullable=False,
        ),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("fov_deg", sa.Float(), nullable=True),
        sa.Column("range_m", sa.Float(), nullable=True),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
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
        sa.CheckConstraint(
            "fov_deg IS NULL OR (fov_deg > 0 AND fov_deg <= 360)", name="ck_cameras_fov"
        ),
        sa.CheckConstraint(
            "heading_deg IS NULL OR (heading_deg >= 0 AND heading_deg < 360)",
            name="ck_cameras_heading",
        ),
        sa.CheckConstraint("range_m IS NULL OR range_m > 0", name="ck_cameras_range"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_cameras_geom", "cameras", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "active", "retired", name="generation_status"),
            nullable=False,
        ),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from", name="ck_generations_dates"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_generations_one_active",
        "generations",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "roads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_roads_geom", "roads", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON', 'POINT')", name="ck_sites_geom_type"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_sites_geom", "sites", ["geom"], unique=False, postgresql_using="gist")
    op.create_index("ix_sites_kind", "sites", ["kind"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum("public", "worker", "dispatcher", "planner", "admin", name="user_role"),
            nullable=False,
        ),
        sa.Column("scope_code", sa.String(length=15), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column(
            "role",
            sa.Enum("full_time", "part_time", "environment", "safety", name="worker_role"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "level",
            sa.Enum("district", "street", "community", "grid", name="area_level"),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum("comprehensive", "dedicated", name="grid_kind"), nullable=True),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("(level = 'grid') = (kind IS NOT NULL)", name="ck_areas_kind_for_grids"),
        sa.CheckConstraint(
            "code ~ '^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{2,3})?)?)?$'", name="ck_areas_code_national"
        ),
        sa.ForeignKeyConstraint(["generation_id"], ["generations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["areas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_areas_generation_level", "areas", ["generation_id", "level"], unique=False)
    op.create_index("ix_areas_geom", "areas", ["geom"], unique=False, postgresql_using="gist")
    op.create_index("ix_areas_parent", "areas", ["parent_id"], unique=False)
    op.create_index("uq_areas_generation_code", "areas", ["generation_id", "code"], unique=True)
    op.create_table(
        "worker_assignments",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("role", postgresql.ENUM(name="worker_role", create_type=False), nullable=False),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("worker_id", "grid_code", "role"),
    )
    op.create_index("ix_worker_assignments_grid", "worker_assignments", ["grid_code"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_assignments_grid", table_name="worker_assignments")
    op.drop_table("worker_assignments")
    op.drop_index("uq_areas_generation_code", table_name="areas")
    op.drop_index("ix_areas_parent", table_name="areas")
    op.drop_index("ix_areas_geom", table_name="areas", postgresql_using="gist")
    op.drop_index("ix_areas_generation_level", table_name="areas")
    op.drop_table("areas")
    op.drop_table("workers")
    op.drop_table("users")
    op.drop_index("ix_sites_kind", table_name="sites")
    op.drop_index("ix_sites_geom", table_name="sites", postgresql_using="gist")
    op.drop_table("sites")
    op.drop_index("ix_roads_geom", table_name="roads", postgresql_using="gist")
    op.drop_table("roads")
    op.drop_index(
        "uq_generations_one_active",
        table_name="generations",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("generations")
    op.drop_index("ix_cameras_geom", table_name="cameras", postgresql_using="gist")
    op.drop_table("cameras")
    op.drop_index("ix_buildings_geom", table_name="buildings", postgresql_using="gist")
    op.drop_table("buildings")
    op.drop_index("ix_alleys_geom", table_name="alleys", postgresql_using="gist")
    op.drop_table("alleys")
    for enum_type in (
        "worker_role",
        "user_role",
        "generation_status",
        "camera_kind",
        "area_level",
        "grid_kind",
    ):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
