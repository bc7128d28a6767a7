"""The standard-address gazetteer (issue 21): standard addresses as parts, with other names.

Revision ID: 0010
Revises: 0012
Create Date: 2026-11-28
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "standard_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("street", sa.String(length=100), nullable=True),
        sa.Column("community", sa.String(length=100), nullable=True),
        sa.Column("road", sa.String(length=100), nullable=True),
        sa.Column("door_plate", sa.String(length=20), nullable=True),
        sa.Column("compound", sa.String(length=100), nullable=True),
        sa.Column("building", sa.String(length=20), nullable=True),
        sa.Column("building_code", sa.String(length=40), nullable=True),
        sa.Column("place_kind", sa.String(length=40), nullable=True),
        sa.Column("aliases", sa.String(length=500), nullable=True),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326,
                                                     spatial_index=False, from_text="ST_GeomFromEWKT",
                                                     name="geometry"), nullable=False),
        sa.CheckConstraint("kind IN ('building', 'compound', 'place')",
                           name="ck_standard_addresses_kind"),
        sa.CheckConstraint("GeometryType(geom) = 'POINT'", name="ck_standard_addresses_geom_type"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_standard_addresses_building", "standard_addresses", ["building_code"],
                    unique=False)
    op.create_index("ix_standard_addresses_geom", "standard_addresses", ["geom"], unique=False,
                    postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ix_standard_addresses_geom", table_name="standard_addresses",
                  postgresql_using="gist")
    op.drop_index("ix_standard_addresses_building", table_name="standard_addresses")
    op.drop_table("standard_addresses")
