"""Field work: patrols (每日巡查), a worker's cleaned track and what it covered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrols",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points_in", sa.Integer(), nullable=False),
        sa.Column("points_kept", sa.Integer(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("inside_s", sa.Float(), nullable=False),
        sa.Column("outside_s", sa.Float(), nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="LINESTRING", srid=4326,
                                                     spatial_index=False, from_text="ST_GeomFromEWKT",
                                                     name="geometry"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_patrols_started", "patrols", ["started_at"], unique=False)
    op.create_index("ix_patrols_grid", "patrols", ["grid_code"], unique=False)
    op.create_index("ix_patrols_geom", "patrols", ["geom"], unique=False, postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ix_patrols_geom", table_name="patrols", postgresql_using="gist")
    op.drop_index("ix_patrols_grid", table_name="patrols")
    op.drop_index("ix_patrols_started", table_name="patrols")
    op.drop_table("patrols")
