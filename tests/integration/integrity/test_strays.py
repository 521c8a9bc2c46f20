"""Files under warcs/ that no snapshot refers to (archiver.integrity.strays): recent ones
are warnings (a running capture may still record them), older ones fail ``verify
--store`` with the command that quarantines them; the quarantine moves them (never
deletes), logs each move in custody, and leaves recorded evidence alone."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import main
from archiver.integrity.custody import verify_stored_chain
from archiver.integrity.strays import QUARANTINE_COMMAND, quarantine_strays
from archiver.integrity.verify_store import verify_store
from archiver.models import CustodyEvent, Snapshot
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import Sealed, sealed_archive

DAY = Path("warcs", "2026", "01", "02", "ab")
ORPHAN = (DAY / "9-00000000-0000-0000-0000-000000000000.warc.gz").as_posix()
PART = (DAY / ".9-00000000-0000-0000-0000-000000000001.warc.gz.1a2b3c4d.part").as_posix()


@pytest.fixture
def sealed(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa) as done:
        yield done


def _plant(root: Path, rel: str, data: bytes, *, age: float = 0.0) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def _lines(sealed: Sealed, status: str) -> list[str]:
    return [f.line() for f in verify_store(sealed.archive) if f.status == status]


def _recorded(sealed: Sealed) -> Path:
    with sealed.archive.db.session() as session:
        [warc_path] = session.scalars(select(Snapshot.warc_path)).all()
    return sealed.archive.settings.storage.root / warc_path


def test_files_a_running_capture_may_still_record_are_warnings(sealed: Sealed) -> None:
    root = sealed.archive.settings.storage.root
    _plant(root, ORPHAN, b"orphan")
    _plant(root, PART, b"half")
    found = verify_store(sealed.archive)
    assert not found.failed
    warnings = [f for f in found if f.status == "warn" and f.item not in ("timestamps", "KEY")]
    assert [f.item for f in warnings] == [PART, ORPHAN]
    assert warnings[0].detail.startswith("leftover temporary file (a capture killed while")
    assert warnings[1].detail.startswith("WARC file no snapshot refers to")
    for warning in warnings:
        assert "a capture running now may still record it" in warning.detail
    # Not moved either: a capture may be about to record it.
    result = quarantine_strays(sealed.archive, actor="cli:tester")
    assert result.moved == [] and result.errors == []
    assert sorted(s.rel for s in result.skipped) == [PART, ORPHAN]
    assert (root / ORPHAN).read_bytes() == b"orphan" and (root / PART).is_file()


def test_old_strays_fail_verify_and_name_the_quarantine_command(sealed: Sealed) -> None:
    root = sealed.archive.settings.storage.root
    _plant(root, ORPHAN, b"orphan", age=3600)
    _plant(root, PART, b"half", age=3600)
    failures = _lines(sealed, "fail")
    assert failures == [
        f"FAIL {PART}: leftover temporary file (a capture killed while writing it); "
        f"move it to quarantine with: {QUARANTINE_COMMAND}",
        f"FAIL {ORPHAN}: WARC file no snapshot refers to (its capture stopped before "
        f"recording it); move it to quarantine with: {QUARANTINE_COMMAND}",
    ]
    # A grace that long makes them warnings again.
    assert not verify_store(sealed.archive, grace=7200).failed


def test_quarantine_moves_old_strays_logs_them_and_leaves_evidence_alone(
    sealed: Sealed,
) -> None:
    archive = sealed.archive
    root = archive.settings.storage.root
    recorded = _recorded(sealed)
    evidence = recorded.read_bytes()
    # A capture killed between linking the final name and removing the temporary one:
    # the .part is a second name of a recorded file.
    second = recorded.with_name(f".{recorded.name}.0011223344556677.part")
    os.link(recorded, second)
    then = time.time() - 3600
    os.utime(second, (then, then), follow_symlinks=False)
    _plant(root, ORPHAN, b"orphan", age=3600)
    _plant(root, PART, b"half", age=3600)
    recent = _plant(root, DAY.as_posix() + "/9-recent.warc.gz", b"just written")
    second_rel = second.relative_to(root).as_posix()
    [note] = [line for line in _lines(sealed, "fail") if line.startswith(f"FAIL {second_rel}:")]
    assert f"a second name of {recorded.relative_to(root).as_posix()}" in note

    result = quarantine_strays(archive, actor="cli:tester")
    assert result.errors == []
    assert [s.path for s in result.skipped] == [recent]
    moved = {m.rel: m for m in result.moved}
    assert sorted(moved) == sorted([ORPHAN, PART, second_rel])
    stamp = sealed.clock.now.strftime("%Y%m%dT%H%M%SZ")
    for rel, data in ((ORPHAN, b"orphan"), (PART, b"half"), (second_rel, evidence)):
        assert not (root / rel).exists()
        assert moved[rel].to == f"quarantine/{stamp}/{rel}"
        assert (root / moved[rel].to).read_bytes() == data
        assert moved[rel].sha256 == hashlib.sha256(data).hexdigest()
        assert moved[rel].size == len(data)
    assert moved[ORPHAN].kind == "orphan" and moved[PART].kind == "temporary"
    assert recorded.read_bytes() == evidence  # the snapshot's file, untouched
    with archive.db.session() as session:
        entries = session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "quarantine")
        ).all()
        assert verify_stored_chain(session).ok
        logged = {e.subject_id: (e.actor, e.subject_type, dict(e.details)) for e in entries}
    assert logged == {
        rel: (
            "cli:tester",
            "file",
            {"to": m.to, "kind": m.kind, "sha256": m.sha256, "size": m.size},
        )
        for rel, m in moved.items()
    }
    failures = _lines(sealed, "fail")
    assert failures == []
    # Nothing left to move but the recent file; nothing is ever moved twice.
    again = quarantine_strays(archive, actor="cli:tester")
    assert again.moved == [] and [s.path for s in again.skipped] == [recent]


def test_cli_quarantine_goes_with_store_and_reports_each_move(sealed: Sealed) -> None:
    settings = sealed.archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
        "ARCHIVER_INTEGRITY__TSA_URLS": f'["{sealed.tsa.url}"]',
    }
    runner = CliRunner(env=env)
    _plant(settings.storage.root, ORPHAN, b"orphan", age=3600)
    failed = runner.invoke(main, ["verify", "--store", "-q"])
    assert failed.exit_code == 1 and f"FAIL {ORPHAN}:" in failed.output
    assert QUARANTINE_COMMAND in failed.output
    misuse = runner.invoke(main, ["verify", "--quarantine-orphans", str(settings.storage.root)])
    assert misuse.exit_code == 2 and "--quarantine-orphans goes with --store" in misuse.output
    done = runner.invoke(main, ["verify", "--store", "--quarantine-orphans", "-q"])
    assert done.exit_code == 0, done.output
    [moved] = [line for line in done.output.splitlines() if line.startswith("MOVED ")]
    assert moved.startswith(f"MOVED {ORPHAN} -> quarantine/")
    assert "VERIFIED" in done.output
