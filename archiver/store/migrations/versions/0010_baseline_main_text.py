"""baselines keep their main text in literal form (numbers and names kept)

Existing rows get NULL: the re-check reads the text again from the baseline snapshot's
WARC file at the source's next check (archiver/check/_store.py), so no source is
compared with a masked text it cannot match.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("baselines") as batch:
        batch.add_column(sa.Column("main_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("text_form", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("baselines") as batch:
        batch.drop_column("text_form")
        batch.drop_column("main_text")
