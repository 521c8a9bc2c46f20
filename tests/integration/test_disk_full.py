"""A full disk is said plainly ("disk full", with the path), not as "disk I/O error".

Portable first: SQLite's ``max_page_count`` makes a real database full, and /dev/full
gives a real ENOSPC. Where the tests run as root and may mount, a tiny tmpfs fills up
for real (the case first reported: a migration on a full disk said "disk I/O error").
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from archiver.capture.warc import open_snapshot
from archiver.errors import DiskFullError, StoreError
from archiver.store.db import Database, make_engine, migrate
from archiver.store.files import write_atomic
from archiver.store.space import disk_full_error


def _capped(path: Path, pages: int | None = None) -> Any:
    """An engine whose connections cannot grow the database file beyond ``pages`` pages
    (or beyond its size when opened)."""
    engine = make_engine(f"sqlite:///{path}")

    def cap(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        limit = pages
        if limit is None:
            limit = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={int(limit)}")
        cursor.close()

    event.listen(engine, "connect", cap)
    return engine


def test_a_migration_into_a_full_database_says_disk_full(tmp_path: Path) -> None:
    path = tmp_path / "archiver.db"
    with pytest.raises(DiskFullError) as caught:
        migrate(_capped(path, pages=2))
    message = str(caught.value)
    assert message.startswith("disk full:"), message
    assert str(path) in message and "migration" in message
    assert isinstance(caught.value.__cause__, SQLAlchemyError)
    assert isinstance(caught.value, StoreError)  # callers that catch StoreError still do


def test_a_write_into_a_full_database_says_disk_full(tmp_path: Path) -> None:
    path = tmp_path / "archiver.db"
    Database.open(f"sqlite:///{path}").close()
    db = Database(_capped(path))
    with pytest.raises(DiskFullError, match=r"^disk full: .*archiver\.db"), db.session() as s:
        s.execute(text("CREATE TABLE filler (x BLOB)"))
        for _ in range(50):
            s.execute(text("INSERT INTO filler VALUES (randomblob(100000))"))
    db.close()


def test_enospc_is_disk_full() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "wb", buffering=0) as fh:
        try:
            fh.write(b"x" * 4096)
        except OSError as exc:
            real = exc
    assert real.errno == errno.ENOSPC
    found = disk_full_error(real, "/data/warcs/x.warc.gz")
    assert found is not None and "/data/warcs/x.warc.gz" in str(found)
    assert disk_full_error(OSError(errno.EACCES, "Permission denied"), "/x") is None


def _sqlite_error(message: str, code: int) -> OperationalError:
    orig = sqlite3.OperationalError(message)
    orig.sqlite_errorcode = code  # type: ignore[attr-defined]
    return OperationalError("PRAGMA main.table_info(alembic_version)", {}, orig)


def test_a_disk_io_error_is_disk_full_only_when_the_disk_is_full(tmp_path: Path) -> None:
    # What SQLite says when the WAL index cannot grow: SQLITE_IOERR_SHMSIZE (4874).
    io_error = _sqlite_error("disk I/O error", 4874)
    where = tmp_path / "archiver.db"
    full = disk_full_error(io_error, where, free_bytes=lambda _: 0)
    assert full is not None and str(where) in str(full)
    assert disk_full_error(io_error, where, free_bytes=lambda _: 10**9) is None
    # SQLITE_FULL needs no look at the disk.
    assert disk_full_error(_sqlite_error("database or disk is full", 13), where) is not None
    assert disk_full_error(_sqlite_error("database is locked", 5), where) is None


def test_a_full_postgresql_disk_is_disk_full() -> None:
    import psycopg.errors

    exc = OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file"))
    found = disk_full_error(exc, "the PostgreSQL server at db.example")
    assert found is not None and "PostgreSQL" in str(found)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs with 16 KiB left free (root only; skipped elsewhere)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        stat = os.statvfs(mount_point)
        free = stat.f_bavail * stat.f_frsize
        (mount_point / "filler").write_bytes(b"\0" * (free - 16 * 1024))
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_disk_says_disk_full(tiny_filesystem: Path) -> None:
    database = tiny_filesystem / "archiver.db"
    with pytest.raises(DiskFullError) as caught:
        Database.open(f"sqlite:///{database}")
    assert str(caught.value).startswith("disk full:") and str(database) in str(caught.value)
    assert "I/O error" not in str(caught.value)
    with pytest.raises(DiskFullError, match=r"disk full: .*big\.bin"):
        write_atomic(tiny_filesystem / "sub" / "big.bin", b"x" * 100_000)


def test_a_warc_on_a_full_disk_says_disk_full_and_leaves_nothing(tiny_filesystem: Path) -> None:
    final = tiny_filesystem / "warcs" / "1-x.warc.gz"
    with pytest.raises(DiskFullError) as caught, open_snapshot(final) as writer:
        writer.write_warcinfo(operator="op")
        # Incompressible: the file outgrows the 16 KiB left.
        writer.write_resource("urn:x:https://example.org/", "text/plain", os.urandom(100_000))
    assert str(caught.value).startswith("disk full:") and str(final) in str(caught.value)
    assert list((tiny_filesystem / "warcs").iterdir()) == []  # no final file, no .part
