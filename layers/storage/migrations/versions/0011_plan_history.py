"""A plan's history keeps geometry: every edit stores its grids before and after
(``plan_event_grids``), so edits can be undone, redone and any earlier state restored; a plan
remembers the generation it was drawn on and that generation's worker assignments (``base_*``),
so publishing can tell its own changes from changes published since and never undo them; unit
ids come from one sequence, so a unit recomputed after an edit never reuses an id a page still
holds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("base_generation_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_plans_base_generation", "plans", "generations",
                          ["base_generation_id"], ["id"], ondelete="SET NULL")
    op.add_column("plans", sa.Column("base_assignments", postgresql.JSONB(astext_type=sa.Text()),
                                     server_default="{}", nullable=False))
    # plans made before: drawn on the generation active now (the best guess there is)
    op.execute("UPDATE plans SET base_generation_id = (SELECT id FROM generations "
               "WHERE status = 'active')")
    op.create_table(
        "plan_event_grids",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("kind", postgresql.ENUM(name="grid_kind", create_type=False), nullable=True),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("workers", postgresql.JSONB(astext_type=sa.Text()), server_default="[]",
                  nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="MULTIPOLYGON", srid=4326,
                                                     spatial_index=False,
                                                     from_text="ST_GeomFromEWKT", name="geometry"),
                  nullable=True),
        sa.CheckConstraint("side IN ('before', 'after')", name="ck_plan_event_grids_side"),
        sa.ForeignKeyConstraint(["event_id"], ["plan_events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "code", "side"),
    )
    op.create_index("ix_plan_event_grids_geom", "plan_event_grids", ["geom"], unique=False,
                    postgresql_using="gist")
    op.execute("CREATE SEQUENCE plan_unit_ids")
    op.execute("SELECT setval('plan_unit_ids', GREATEST((SELECT max(id) FROM plan_units), 1))")


def downgrade() -> None:
    op.execute("DROP SEQUENCE plan_unit_ids")
    op.drop_index("ix_plan_event_grids_geom", table_name="plan_event_grids",
                  postgresql_using="gist")
    op.drop_table("plan_event_grids")
    op.drop_column("plans", "base_assignments")
    op.drop_constraint("fk_plans_base_generation", "plans", type_="foreignkey")
    op.drop_column("plans", "base_generation_id")
