"""A photo is keyed by its owner and content: the same bytes sent twice to one case or one visit
(a phone resending its queue, two resends at once) store one photo. The check before the insert
kept that for resends one after another; these unique indexes keep it for resends that overlap.
Duplicates already stored (the later copies) are removed first.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a case event that lists a copy as evidence lists the photo kept instead (the first stored)
    op.execute("""
        WITH dup AS (
            SELECT p.id AS copy, min(q.id) AS kept FROM photos p JOIN photos q
              ON p.sha256 = q.sha256 AND q.id < p.id
             AND (p.case_id = q.case_id OR p.visit_id = q.visit_id)
            GROUP BY p.id)
        UPDATE case_events e SET photo_ids = (
            SELECT jsonb_agg(COALESCE(d.kept, x.id::int) ORDER BY x.n)
            FROM jsonb_array_elements_text(e.photo_ids) WITH ORDINALITY AS x(id, n)
            LEFT JOIN dup d ON d.copy = x.id::int)
        WHERE jsonb_typeof(e.photo_ids) = 'array' AND EXISTS (
            SELECT 1 FROM jsonb_array_elements_text(e.photo_ids) AS x(id)
            JOIN dup d ON d.copy = x.id::int)""")
    op.execute("""
        DELETE FROM photos p USING photos q
        WHERE p.sha256 = q.sha256 AND p.id > q.id
          AND (p.case_id = q.case_id OR p.visit_id = q.visit_id)""")
    op.create_index("uq_photos_case_content", "photos", ["case_id", "sha256"], unique=True,
                    postgresql_where=sa.text("case_id IS NOT NULL"))
    op.create_index("uq_photos_visit_content", "photos", ["visit_id", "sha256"], unique=True,
                    postgresql_where=sa.text("visit_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_photos_visit_content", table_name="photos")
    op.drop_index("uq_photos_case_content", table_name="photos")
