"""witnesses: third-party copies from public web archives, lookups, Save Page Now

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "third_party_copies",
        sa.Column("snapshot_id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("archive", sa.String(length=255), nullable=False),
        sa.Column("memento_url", sa.Text(), nullable=False),
        sa.Column("raw_url", sa.Text(), nullable=False),
        sa.Column("memento_datetime", sa.DateTime(), nullable=False),
        sa.Column("original_status", sa.Integer(), nullable=True),
        sa.Column("listed_by", sa.Text(), nullable=False),
        sa.Column("target_at", sa.DateTime(), nullable=False),
        sa.Column("target_basis", sa.String(length=16), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("snapshot_id"),
    )
    op.create_index("ix_third_party_copies_source_id", "third_party_copies", ["source_id"])
    op.create_table(
        "witness_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("archives", sa.JSON(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_witness_lookups_source_id", "witness_lookups", ["source_id", "asked_at"])
    op.create_table(
        "live_witnesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=True),
        sa.Column("memento_url", sa.Text(), nullable=True),
        sa.Column("memento_datetime", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id"),
    )
    op.create_index("ix_live_witnesses_due", "live_witnesses", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_live_witnesses_due", table_name="live_witnesses")
    op.drop_table("live_witnesses")
    op.drop_index("ix_witness_lookups_source_id", table_name="witness_lookups")
    op.drop_table("witness_lookups")
    op.drop_index("ix_third_party_copies_source_id", table_name="third_party_copies")
    op.drop_table("third_party_copies")
