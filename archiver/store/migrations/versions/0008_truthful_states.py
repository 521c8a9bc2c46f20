"""truthful states: what a snapshot lacks, and per-source claims (leases)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots") as batch_op:
        # [{"artefact": "video"|"screenshot"|..., "reason": ...}]; NULL: written before
        # this was recorded (derived from what is known when shown).
        batch_op.add_column(sa.Column("incomplete", sa.JSON(), nullable=True))
    with op.batch_alter_table("sources") as batch_op:
        # Who is capturing or checking the source now, and until when the claim holds
        # (a process that dies leaves a claim that expires).
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
    with op.batch_alter_table("snapshots") as batch_op:
        batch_op.drop_column("incomplete")
