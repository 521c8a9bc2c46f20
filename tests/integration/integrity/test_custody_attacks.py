"""Attacks on the store's custody record, as the other side's expert would try them with
write access to the database (and, for the report file, to the storage folder): each
one makes ``archiver verify --store`` fail with a line naming what is wrong.

The store: one report, one source captured and sealed, stamped with the first custody
head (entries 1-3: report_added, key_created, capture), then exported (entry 4, head
at 4), then captured again (entry 5, after the last head)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from archiver.cli import main
from archiver.integrity.verify import Findings
from archiver.integrity.verify_store import verify_store
from archiver.models import Citation, CustodyEvent, CustodyHead, Report, TimestampRecord
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import CLAIM, Sealed, sealed_archive


@pytest.fixture
def store(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa, database_url: str
) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, database_url, clock, local_tsa) as sealed:
        archive = sealed.archive
        archive.export(str(sealed.source_id), tmp_path / "package.zip", actor="cli:tester")
        clock.advance(minutes=1)
        [again] = archive.capture(source_ids=[sealed.source_id], actor="cli:tester")
        assert again.http_status == 200
        with archive.db.session() as session:
            actions = session.scalars(select(CustodyEvent.action).order_by(CustodyEvent.seq))
            assert list(actions) == ["report_added", "key_created", "capture", "export", "capture"]
            assert [h.seq for h in session.scalars(select(CustodyHead))] == [3, 4]
        assert _failures(verify_store(archive)) == []
        yield sealed


def _failures(found: Findings) -> list[str]:
    return [f.line() for f in found if f.status == "fail"]


def _sql(sealed: Sealed, statement: str) -> None:
    with sealed.archive.db.engine.begin() as conn:
        conn.execute(text(statement))


def _cli(sealed: Sealed) -> str:
    settings = sealed.archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
    }
    result = CliRunner(env=env).invoke(main, ["verify", "--store", "--quiet"])
    assert result.exit_code == 1, result.output
    assert result.output.rstrip().splitlines()[-1].startswith("FAILED:")
    return result.output


def _has(failures: list[str], *words: str) -> bool:
    return any(all(w in line for w in words) for line in failures)


def test_wiping_the_custody_log_heads_and_stamps_fails(store: Sealed) -> None:
    """Every custody entry, custody head and their timestamp rows deleted: before, this
    verified ("13 checks, 0 failed")."""
    with store.archive.db.session() as session:
        session.execute(delete(CustodyEvent))
        session.execute(delete(CustodyHead))
        session.execute(
            delete(TimestampRecord).where(TimestampRecord.subject_type == "custody_head")
        )
    failures = _failures(verify_store(store.archive))
    # The head files under the storage root, and every signed manifest, still say how
    # long the log was.
    assert _has(failures, "custody head file", "entry 4", "log has 0 entries"), failures
    assert _has(failures, f"manifest of snapshot {store.snapshot_id}", "entry 2", "0 entries")
    assert _has(failures, f"snapshot {store.snapshot_id}", "has no capture entry")
    assert _has(failures, "report 1", "has no report_added entry")
    output = _cli(store)
    assert "custody head file" in output and "has no capture entry" in output


def test_truncating_the_log_fails(store: Sealed) -> None:
    _sql(store, "DELETE FROM custody_events WHERE seq >= 3")
    failures = _failures(verify_store(store.archive))
    assert _has(failures, "custody head file", "entry 3", "log has 2 entries"), failures
    assert _has(failures, "custody head 1", "entry 3")
    assert _has(failures, f"snapshot {store.snapshot_id}", "has no capture entry")
    assert "cut off the end" in _cli(store)


def test_deleting_the_capture_entry_written_after_the_last_head_fails(store: Sealed) -> None:
    """Entry 5 (the second capture) is after every custody head: only the snapshot row
    that lacks it can tell."""
    with store.archive.db.session() as session:
        last = session.scalars(select(CustodyEvent).where(CustodyEvent.seq == 5)).one()
        snapshot_id = last.subject_id
        session.delete(last)
    failures = _failures(verify_store(store.archive))
    assert failures == [f"FAIL snapshot {snapshot_id}: has no capture entry in the custody log"]
    assert f"FAIL snapshot {snapshot_id}: has no capture entry" in _cli(store)


def test_deleting_one_entry_fails(store: Sealed) -> None:
    _sql(store, "DELETE FROM custody_events WHERE seq = 2")
    failures = _failures(verify_store(store.archive))
    assert _has(failures, "custody entry 2:", "removed"), failures
    assert "FAIL custody entry 2: removed" in _cli(store)


def test_reordering_entries_fails(store: Sealed) -> None:
    _sql(store, "UPDATE custody_events SET seq = 100 WHERE seq = 2")
    _sql(store, "UPDATE custody_events SET seq = 2 WHERE seq = 3")
    _sql(store, "UPDATE custody_events SET seq = 3 WHERE seq = 100")
    failures = _failures(verify_store(store.archive))
    assert "FAIL custody entry 2: reordered: entry 2 follows entry 3, not 1" in failures, failures
    assert "reordered" in _cli(store)


def test_a_capture_entry_whose_snapshot_row_is_gone_fails(store: Sealed) -> None:
    """The reverse: the custody log names a snapshot the store no longer has."""
    with store.archive.db.session() as session:
        entry = session.scalars(select(CustodyEvent).where(CustodyEvent.seq == 5)).one()
        gone = entry.subject_id
    for table, column in (
        ("timestamp_tokens", "subject_id"),
        ("snapshot_seals", "snapshot_id"),
        ("observations", "snapshot_id"),
        ("platform_records", "snapshot_id"),
        ("snapshots", "id"),
    ):
        _sql(store, f"DELETE FROM {table} WHERE {column} = '{gone}'")
    failures = _failures(verify_store(store.archive))
    assert _has(failures, "custody entry 5:", f"snapshot {gone}", "store does not have"), failures


def test_editing_a_claim_fails_and_names_the_footnote(store: Sealed) -> None:
    with store.archive.db.session() as session:
        session.execute(update(Citation).values(context="On 3 October the activist was released"))
    failures = _failures(verify_store(store.archive))
    assert _has(
        failures, "report 1 footnote 1", "claim differs from the report as sealed", CLAIM
    ), failures
    assert "report 1 footnote 1" in _cli(store)


def test_a_flipped_byte_in_the_report_file_fails(store: Sealed) -> None:
    with store.archive.db.session() as session:
        stored = session.scalars(select(Report.stored_path)).one()
    path = store.archive.settings.storage.root / stored
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[:10] + bytes([data[10] ^ 1]) + data[11:])
    failures = _failures(verify_store(store.archive))
    assert _has(failures, f"report 1 ({stored})", "sha256", "changed"), failures
    assert f"report 1 ({stored})" in _cli(store)


def test_a_deleted_report_file_fails(store: Sealed) -> None:
    with store.archive.db.session() as session:
        stored = session.scalars(select(Report.stored_path)).one()
    (store.archive.settings.storage.root / stored).unlink()
    assert _has(_failures(verify_store(store.archive)), f"report 1 ({stored})", "missing")


def test_a_changed_head_file_fails(store: Sealed) -> None:
    """The head files are the log's anchor outside the database: each is signed."""
    heads = store.archive.settings.storage.root / "custody" / "heads"
    [first, _second] = sorted(heads.glob("head-*.json"))
    assert [p.name for p in sorted(heads.glob(f"{first.stem}.*"))] == [
        f"{first.stem}.json",
        f"{first.stem}.key",
        f"{first.stem}.sig",
        *[p.name for p in heads.glob(f"{first.stem}.tsa-*.tsr")],
    ]
    first.write_bytes(first.read_bytes().replace(b'"seq":3', b'"seq":2'))
    failures = _failures(verify_store(store.archive))
    assert failures == [
        f"FAIL custody head file custody/heads/{first.name}: Ed25519 signature does not "
        f"verify (key {store.archive.integrity.keys().fingerprint[:16]})"
    ], failures
