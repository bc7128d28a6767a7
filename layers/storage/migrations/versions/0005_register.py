"""The register: dwellings, persons (ID number and phone encrypted, with blind indexes),
organisations, care visits; and which grid of the active generation each building stands in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# layers/boundaries/generations.py keeps this table; its statements as they were at 0005
REFRESH_SQL = (
    "DELETE FROM building_grids",
    """
    INSERT INTO building_grids (building_id, grid_code)
    SELECT DISTINCT ON (b.id) b.id, g.code
    FROM buildings b
    JOIN areas g ON g.generation_id = (SELECT id FROM generations WHERE status = 'active')
                AND g.level = 'grid' AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
    ORDER BY b.id, g.code
    """,
)

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _point() -> geoalchemy2.types.Geometry:
    return geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, dimension=2,
                                      spatial_index=False, from_text="ST_GeomFromEWKT",
                                      name="geometry")


def upgrade() -> None:
    op.create_table('building_grids',
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('building_id')
    )
    op.create_index('ix_building_grids_grid', 'building_grids', ['grid_code'], unique=False)
    for statement in REFRESH_SQL:  # buildings already loaded get their grids
        op.execute(statement)
    op.create_table('dwellings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('unit', sa.Integer(), nullable=False),
    sa.Column('floor', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=20), nullable=False),
    sa.Column('use', sa.String(length=4), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=True),
    sa.Column('landlord_id', sa.BigInteger(), nullable=True),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
              nullable=False),
    sa.CheckConstraint("use IN ('自住', '出租', '空置', '经营')", name='ck_dwellings_use'),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_dwellings_place', 'dwellings', ['building_id', 'unit', 'floor', 'room'],
                    unique=True)
    op.create_table('organisations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=50), nullable=True),
    sa.Column('contact_phone_cipher', sa.LargeBinary(), nullable=True),
    sa.Column('contact_phone_index', sa.LargeBinary(), nullable=True),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
              nullable=False),
    sa.Column('geom', _point(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credit_code')
    )
    op.create_index('ix_organisations_building', 'organisations', ['building_id'], unique=False)
    op.create_index('ix_organisations_geom', 'organisations', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_organisations_name', 'organisations', ['name'], unique=False,
                    postgresql_ops={'name': 'text_pattern_ops'})
    op.create_table('persons',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('id_cipher', sa.LargeBinary(), nullable=False),
    sa.Column('id_index', sa.LargeBinary(), nullable=False),
    sa.Column('phone_cipher', sa.LargeBinary(), nullable=True),
    sa.Column('phone_index', sa.LargeBinary(), nullable=True),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('floating', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=100), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('dwelling_id', sa.BigInteger(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=10), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=10)), server_default='{}', nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
              nullable=False),
    sa.CheckConstraint("gender IN ('男', '女')", name='ck_persons_gender'),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ),
    sa.ForeignKeyConstraint(['dwelling_id'], ['dwellings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_persons_building', 'persons', ['building_id'], unique=False)
    op.create_index('ix_persons_dwelling', 'persons', ['dwelling_id'], unique=False)
    op.create_index('ix_persons_name', 'persons', ['name'], unique=False,
                    postgresql_ops={'name': 'text_pattern_ops'})
    op.create_index('ix_persons_phone_index', 'persons', ['phone_index'], unique=False)
    op.create_index('ix_persons_tags', 'persons', ['tags'], unique=False, postgresql_using='gin',
                    postgresql_where=sa.text("tags <> '{}'"))
    op.create_index('uq_persons_id_index', 'persons', ['id_index'], unique=True)
    op.create_index('ix_persons_care', 'persons', ['building_id', 'id'], unique=False,
                    postgresql_where=sa.text("tags && '{困难群众,独居老人,残疾家庭,失业人员,留守儿童}'"
                                             "::varchar[]"))
    op.create_index('ix_dwellings_rental', 'dwellings', ['building_id', 'id'], unique=False,
                    postgresql_where=sa.text("use = '出租'"))
    op.create_table('visits',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=True),
    sa.Column('person_id', sa.BigInteger(), nullable=True),
    sa.Column('dwelling_id', sa.BigInteger(), nullable=True),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('geom', _point(), nullable=True),
    sa.CheckConstraint('(person_id IS NULL) <> (dwelling_id IS NULL)', name='ck_visits_target'),
    sa.ForeignKeyConstraint(['dwelling_id'], ['dwellings.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_visits_dwelling', 'visits', ['dwelling_id'], unique=False)
    op.create_index('ix_visits_geom', 'visits', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_visits_month', 'visits', ['month'], unique=False)
    op.create_index('ix_visits_person', 'visits', ['person_id'], unique=False)
    # a photo belongs to a case or to a care visit
    op.alter_column('photos', 'case_id', existing_type=sa.Integer(), nullable=True)
    op.add_column('photos', sa.Column('visit_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key('photos_visit_id_fkey', 'photos', 'visits', ['visit_id'], ['id'],
                          ondelete='CASCADE')
    op.create_index('ix_photos_visit', 'photos', ['visit_id'], unique=False)
    op.create_check_constraint('ck_photos_owner', 'photos', '(case_id IS NULL) <> (visit_id IS NULL)')


def downgrade() -> None:
    op.drop_constraint('ck_photos_owner', 'photos', type_='check')
    op.drop_index('ix_photos_visit', table_name='photos')
    op.drop_constraint('photos_visit_id_fkey', 'photos', type_='foreignkey')
    op.drop_column('photos', 'visit_id')
    op.execute("DELETE FROM photos WHERE case_id IS NULL")
    op.alter_column('photos', 'case_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index('ix_visits_person', table_name='visits')
    op.drop_index('ix_visits_month', table_name='visits')
    op.drop_index('ix_visits_geom', table_name='visits', postgresql_using='gist')
    op.drop_index('ix_visits_dwelling', table_name='visits')
    op.drop_table('visits')
    op.drop_index('ix_dwellings_rental', table_name='dwellings')
    op.drop_index('ix_persons_care', table_name='persons')
    op.drop_index('uq_persons_id_index', table_name='persons')
    op.drop_index('ix_persons_tags', table_name='persons', postgresql_using='gin')
    op.drop_index('ix_persons_phone_index', table_name='persons')
    op.drop_index('ix_persons_name', table_name='persons',
                    postgresql_ops={'name': 'text_pattern_ops'})
    op.drop_index('ix_persons_dwelling', table_name='persons')
    op.drop_index('ix_persons_building', table_name='persons')
    op.drop_table('persons')
    op.drop_index('ix_organisations_name', table_name='organisations',
                    postgresql_ops={'name': 'text_pattern_ops'})
    op.drop_index('ix_organisations_geom', table_name='organisations', postgresql_using='gist')
    op.drop_index('ix_organisations_building', table_name='organisations')
    op.drop_table('organisations')
    op.drop_index('uq_dwellings_place', table_name='dwellings')
    op.drop_table('dwellings')
    op.drop_index('ix_building_grids_grid', table_name='building_grids')
    op.drop_table('building_grids')
