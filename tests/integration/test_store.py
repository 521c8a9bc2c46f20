"""The schema: migrations applied at start agree with the models, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from archiver.errors import StoreError
from archiver.models import Base, Report
from archiver.store.db import Database, current_revision, head_revision
from archiver.store.files import content_path, store_content, write_atomic


def test_migrations_create_exactly_the_model_schema(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert {"reports", "citations", "sources"} <= set(inspect(db.engine).get_table_names())
    finally:
        db.close()


def test_migrating_twice_is_harmless(database_url: str) -> None:
    Database.open(database_url).close()
    db = Database.open(database_url)
    assert current_revision(db.engine) == head_revision()
    db.close()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'x' / 'a.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.close()


def _report(sha: str, at: datetime) -> Report:
    return Report(
        sha256=sha,
        size_bytes=1,
        title=None,
        format="text",
        encoding="utf-8",
        origin="t",
        fetched_url=None,
        stored_path="reports/x",
        ingested_at=at,
        harvest_notes={"skipped": [], "warnings": []},
    )


def test_datetimes_come_back_as_utc(database_url: str) -> None:
    db = Database.open(database_url)
    almaty = timezone(timedelta(hours=5))
    with db.session() as session:
        session.add(_report("a" * 64, datetime(2026, 3, 1, 17, 0, tzinfo=almaty)))
    with db.session() as session:
        stored = session.scalars(select(Report)).one()
    assert stored.ingested_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert stored.ingested_at.tzinfo is UTC
    db.close()


def test_failed_transaction_leaves_nothing(database_url: str) -> None:
    db = Database.open(database_url)
    now = datetime.now(UTC)
    with pytest.raises(StoreError), db.session() as session:
        session.add(_report("b" * 64, now))
        session.flush()
        session.add(_report("b" * 64, now))  # unique sha256 violated
        session.flush()
    with db.session() as session:
        assert session.scalars(select(Report)).all() == []
    db.close()


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="database migration failed") as info:
        Database.open("postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    assert "pw" not in str(info.value).replace("psycopg", "")


def test_content_is_stored_once_and_never_overwritten(tmp_path: Path) -> None:
    digest, relative = store_content(tmp_path, b"report bytes", ".txt")
    assert relative == content_path(digest, ".txt")
    assert relative.parts[0] == digest[:2] and relative.parts[1] == digest[2:4]
    stat = (tmp_path / relative).stat()
    assert store_content(tmp_path, b"report bytes", ".txt") == (digest, relative)
    assert (tmp_path / relative).stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(FileExistsError):
        write_atomic(tmp_path / relative, b"other bytes")
    assert (tmp_path / relative).read_bytes() == b"report bytes"
    # no temporary files left behind
    assert [p.name for p in (tmp_path / relative).parent.iterdir()] == [relative.name]


def test_tampered_stored_file_is_refused_not_rewritten(tmp_path: Path) -> None:
    _digest, relative = store_content(tmp_path, b"original")
    (tmp_path / relative).write_bytes(b"tampered")
    with pytest.raises(StoreError, match="does not match"):
        store_content(tmp_path, b"original")
    assert (tmp_path / relative).read_bytes() == b"tampered"
