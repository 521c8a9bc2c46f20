"""check runs: the process running each, and why an unfinished one was closed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("check_runs") as batch_op:
        # "host:pid:token" of the process running the check run.
        batch_op.add_column(sa.Column("owner", sa.String(length=255), nullable=True))
        # Why a run left unfinished by a process that ended was closed.
        batch_op.add_column(sa.Column("abandoned_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("check_runs") as batch_op:
        batch_op.drop_column("abandoned_reason")
        batch_op.drop_column("owner")
