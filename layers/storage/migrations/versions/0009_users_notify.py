"""Every change to the users table (a credential added, disabled, rotated, expired — by gridmap
or by hand in SQL) sends NOTIFY gridmap_users, so the API processes drop the credentials they
hold in memory at once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION gridmap_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gridmap_users', TG_OP);
            RETURN NULL;
        END $$;
        CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
            FOR EACH STATEMENT EXECUTE FUNCTION gridmap_users_changed();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS users_changed ON users; "
               "DROP FUNCTION IF EXISTS gridmap_users_changed();")
