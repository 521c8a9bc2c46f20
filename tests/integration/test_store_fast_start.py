"""Start-up skips Alembic when the schema is already at head, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from archiver.store import db as store_db
from archiver.store.db import Database, head_from_files, head_revision


def test_head_read_from_the_migration_files_is_alembics_head() -> None:
    assert head_from_files() == head_revision()


def test_a_database_at_head_is_opened_without_running_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    Database.open(url).close()

    def no_alembic(_connection: object) -> None:
        raise AssertionError("Alembic ran although the schema is at head")

    monkeypatch.setattr(store_db, "_alembic_config", no_alembic)
    Database.open(url).close()


def test_a_database_behind_head_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = Database.open(url)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'nonsense'"))
    db.close()
    with pytest.raises(Exception, match="nonsense"):
        # Not at head, so Alembic runs (and refuses an unknown revision).
        Database.open(url)
