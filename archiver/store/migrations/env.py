"""Alembic environment: always run with a connection handed in by archiver.store.db."""

from __future__ import annotations

from alembic import context

from archiver.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable when run by the alembic CLI
    raise RuntimeError("run migrations through archiver (archiver.store.db.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
