"""Tamper trials: one flipped byte in any file of a package, in a stored WARC file, or
in any field of any custody entry makes ``archiver verify`` fail and name what failed.

One archive and one package serve every trial (module scope); each trial changes a
copy, or changes the store and puts the original bytes back afterwards."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import main
from archiver.errors import IntegrityError
from archiver.integrity.verify import Findings, verify_package
from archiver.integrity.verify_store import verify_store
from archiver.models import CustodyEvent, Snapshot
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import serve_tsa
from tests.integration.integrity.package_fixtures import Sealed, sealed_archive

# Every file of the package the fixture exports (plain HTTP capture: no screenshot).
PACKAGE_FILES = [
    "SHA256SUMS", "SHA256SUMS.sig", "VERIFY.md", "certificate.html", "certificate.pdf",
    "claims.json", "custody/chain.jsonl", "custody/entries.sha256",
    "custody/entries/00000001.json", "custody/entries/00000002.json",
    "custody/entries/00000003.json", "custody/entries/00000004.json", "custody/head.json",
    "custody/head.sig", "export.json", "key/fingerprint.txt", "key/public.pem", "manifest.json",
    "manifest.sig", "reports/report-1.citations.json", "reports/report-1.txt", "snapshot.wacz",
    "timestamps/custody-head-1-certs.pem", "timestamps/custody-head-1.tsr",
    "timestamps/manifest-1-certs.pem", "timestamps/manifest-1.tsr", "timestamps/timestamps.json",
]  # fmt: skip
CUSTODY_FIELDS = ["seq", "at", "actor", "action", "subject_type", "subject_id", "details", "prev_hash", "entry_hash"]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tsa_pki: Path) -> Iterator[tuple[Sealed, Path]]:
    root = tmp_path_factory.mktemp("tamper")
    with serve_tsa(tsa_pki) as tsa, sealed_archive(root, f"sqlite:///{root / 'a.db'}", FixedClock(), tsa) as sealed:  # fmt: skip
        package = sealed.archive.export(str(sealed.source_id), root / "package.zip", actor="t")
        yield sealed, package


def _failures(found: Findings) -> list[str]:
    return [f.line() for f in found if f.status == "fail"]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _rewrite(package: Path, out: Path, name: str, at: str) -> None:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == name:
                data = _flip(
                    data, {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[at]
                )
            dst.writestr(info, data)


def test_the_untouched_package_and_store_verify(world: tuple[Sealed, Path]) -> None:
    sealed, package = world
    assert sorted(zipfile.ZipFile(package).namelist()) == sorted(PACKAGE_FILES)
    assert _failures(verify_package(package)) == []
    assert _failures(verify_store(sealed.archive)) == []


@pytest.mark.parametrize("at", ["first", "middle", "last"])
@pytest.mark.parametrize("name", PACKAGE_FILES)
def test_one_flipped_byte_in_any_package_file_fails_and_is_named(
    world: tuple[Sealed, Path], tmp_path: Path, name: str, at: str
) -> None:
    _sealed, package = world
    tampered = tmp_path / "tampered.zip"
    _rewrite(package, tampered, name, at)
    failures = _failures(verify_package(tampered))
    assert failures, f"flipping the {at} byte of {name} went unnoticed"
    assert any(name in line for line in failures), failures


def test_a_flipped_byte_in_the_zip_itself_fails(world: tuple[Sealed, Path], tmp_path: Path) -> None:
    _sealed, package = world
    data = package.read_bytes()
    tampered = tmp_path / "raw.zip"
    tampered.write_bytes(_flip(data, len(data) // 3))
    assert _failures(verify_package(tampered))


def test_cli_exits_non_zero_and_prints_the_failure(
    world: tuple[Sealed, Path], tmp_path: Path
) -> None:
    _sealed, package = world
    tampered = tmp_path / "t.zip"
    _rewrite(package, tampered, "manifest.json", "middle")
    result = CliRunner().invoke(main, ["verify", "--quiet", str(tampered)])
    assert result.exit_code == 1
    assert "FAIL manifest.json: sha256 is" in result.output
    assert "FAIL manifest.json: Ed25519 signature (manifest.sig) does not verify" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("FAILED:")


def _cli_env(sealed: Sealed) -> dict[str, str]:
    settings = sealed.archive.settings
    return {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
    }


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.25, 0.5, 0.75, 0.999])
def test_one_flipped_byte_in_a_stored_warc_fails_the_store_check(
    world: tuple[Sealed, Path], fraction: float
) -> None:
    sealed, _package = world
    with sealed.archive.db.session() as session:
        rel = session.scalars(select(Snapshot.warc_path)).one()
    path = sealed.archive.settings.storage.root / rel
    original = path.read_bytes()
    mode = path.stat().st_mode
    path.chmod(0o644)
    try:
        path.write_bytes(_flip(original, int(len(original) * fraction)))
        failures = _failures(verify_store(sealed.archive))
        assert any(line.startswith(f"FAIL {rel}:") for line in failures), failures
        result = CliRunner(env=_cli_env(sealed)).invoke(main, ["verify", str(path)])
        assert result.exit_code == 1 and f"FAIL {path}" in result.output
    finally:
        path.write_bytes(original)
        path.chmod(mode)
    assert _failures(verify_store(sealed.archive)) == []


def _changed(field: str, value: Any) -> Any:
    if field == "seq":
        return value + 1000
    if field == "at":
        return value + timedelta(microseconds=1)
    if field == "details":
        text = json.dumps(value)
        at = text.index('": "') + 5  # a character inside the first string value
        return json.loads(text[:at] + chr(ord(text[at]) ^ 0x01) + text[at + 1 :])
    if field == "subject_id" and value is None:
        return "x"
    return value[:-1] + chr(ord(value[-1]) ^ 0x01)


@pytest.mark.parametrize("field", CUSTODY_FIELDS)
@pytest.mark.parametrize("seq", [1, 2, 3])
def test_one_changed_custody_field_fails_and_names_the_entry(
    world: tuple[Sealed, Path], seq: int, field: str
) -> None:
    sealed, _package = world
    db = sealed.archive.db
    with db.session() as session:
        row = session.scalars(select(CustodyEvent).where(CustodyEvent.seq == seq)).one()
        original = getattr(row, field)
        setattr(row, field, _changed(field, original))
        row_id = row.id
    try:
        # The entry is named by the seq it carries now (a changed seq moves it).
        named = seq + 1000 if field == "seq" else seq
        failures = _failures(verify_store(sealed.archive))
        assert any(line.startswith(f"FAIL custody entry {named}:") for line in failures), failures
        result = CliRunner(env=_cli_env(sealed)).invoke(main, ["verify", "--store", "-q"])
        assert result.exit_code == 1 and f"FAIL custody entry {named}:" in result.output
    finally:
        with db.session() as session:
            row = session.get(CustodyEvent, row_id)
            assert row is not None
            setattr(row, field, original)
    assert _failures(verify_store(sealed.archive)) == []


def test_a_removed_last_entry_is_caught_by_the_sealed_head(world: tuple[Sealed, Path]) -> None:
    """A chain alone cannot show entries cut off its end; the signed head can."""
    sealed, _package = world
    db = sealed.archive.db
    with db.session() as session:
        row = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq.desc())).first()
        assert row is not None
        kept = {c: getattr(row, c) for c in CUSTODY_FIELDS}
        session.delete(row)
    try:
        failures = _failures(verify_store(sealed.archive))
        assert any("custody head" in line and "cut off" in line for line in failures), failures
    finally:
        with db.session() as session:
            session.add(CustodyEvent(**kept))
    assert _failures(verify_store(sealed.archive)) == []


def test_a_damaged_warc_is_not_exported_and_nothing_is_logged(
    world: tuple[Sealed, Path], tmp_path: Path
) -> None:
    sealed, _package = world
    archive = sealed.archive
    with archive.db.session() as session:
        rel = session.scalars(select(Snapshot.warc_path)).one()
        entries = len(session.scalars(select(CustodyEvent)).all())
    path = archive.settings.storage.root / rel
    original = path.read_bytes()
    mode = path.stat().st_mode
    path.chmod(0o644)
    try:
        path.write_bytes(_flip(original, len(original) // 2))
        with pytest.raises(IntegrityError, match="not the file that was captured"):
            archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    finally:
        path.write_bytes(original)
        path.chmod(mode)
    assert not (tmp_path / "p.zip").exists()
    with archive.db.session() as session:
        assert len(session.scalars(select(CustodyEvent)).all()) == entries


def test_a_removed_or_added_file_fails_and_is_named(
    world: tuple[Sealed, Path], tmp_path: Path
) -> None:
    _sealed, package = world
    removed, added = tmp_path / "removed.zip", tmp_path / "added.zip"
    with zipfile.ZipFile(package) as src:
        files = {name: src.read(name) for name in src.namelist()}
    with zipfile.ZipFile(removed, "w") as dst:
        for name, data in files.items():
            if name != "timestamps/manifest-1.tsr":
                dst.writestr(name, data)
    with zipfile.ZipFile(added, "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
        dst.writestr("custody/entries/00000005.json", b"{}")
    assert "FAIL timestamps/manifest-1.tsr: listed in SHA256SUMS but missing" in _failures(
        verify_package(removed)
    )
    failures = _failures(verify_package(added))
    assert (
        "FAIL custody/entries/00000005.json: not listed in SHA256SUMS (added after the export)"
        in failures
    )
