"""live witnesses: their copy compared with ours (similarity, when, the outcome)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("live_witnesses") as batch:
        batch.add_column(sa.Column("similarity", sa.Float(), nullable=True))
        batch.add_column(sa.Column("compared_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("comparison", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("live_witnesses") as batch:
        batch.drop_column("comparison")
        batch.drop_column("compared_at")
        batch.drop_column("similarity")
