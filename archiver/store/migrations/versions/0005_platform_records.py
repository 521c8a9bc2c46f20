"""platform records (issue 4: YouTube and Facebook verdicts, videos, extracted text)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=32), nullable=True),
        sa.Column("implied_state", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("media_status", sa.String(length=16), nullable=False),
        sa.Column("media_error", sa.Text(), nullable=True),
        sa.Column("media_sha256", sa.String(length=64), nullable=True),
        sa.Column("media_size", sa.BigInteger(), nullable=True),
        sa.Column("ytdlp_version", sa.String(length=32), nullable=True),
        sa.Column("extracted", sa.JSON(), nullable=False),
        sa.Column("session_used", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id"),
    )
    with op.batch_alter_table("platform_records", schema=None) as batch_op:
        batch_op.create_index("ix_platform_records_source_id", ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("platform_records", schema=None) as batch_op:
        batch_op.drop_index("ix_platform_records_source_id")
    op.drop_table("platform_records")
