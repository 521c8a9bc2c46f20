"""The report and its claim are evidence too: the package carries the citing report's
original file, its sealed citations and its custody entry; the certificate quotes the
claim as sealed (never an edited database row); ``archiver verify PATH`` checks the
quote against the sealed citations and the report file. And every manifest records the
custody position it was sealed at, which the package's chain must have."""

from __future__ import annotations

import hashlib
import html
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from archiver.errors import IntegrityError
from archiver.integrity._claims import check_claims
from archiver.integrity._package import SUMS, SUMS_SIG, sums_text
from archiver.integrity.custody import load_chain
from archiver.integrity.verify import Findings, verify_package
from archiver.integrity.verify_custody import _check_anchors
from archiver.models import Citation, CustodyEvent, Report, SnapshotSeal
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import CLAIM, Sealed, sealed_archive

EDITED = "On 3 October the activist was released"


@pytest.fixture
def sealed(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa) as done:
        yield done


def _failures(found: Findings) -> list[str]:
    return [f.line() for f in found if f.status == "fail"]


def _extract(package: Path, folder: Path) -> Path:
    zipfile.ZipFile(package).extractall(folder)
    return folder


def _resign(sealed: Sealed, folder: Path) -> None:
    """What a forger holding the real key would do after changing files: new sums,
    signed with the organisation's own key."""
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (SUMS, SUMS_SIG)
    )
    sums = sums_text((hashlib.sha256((folder / f).read_bytes()).hexdigest(), f) for f in files)
    (folder / SUMS).write_bytes(sums)
    (folder / SUMS_SIG).write_bytes(sealed.archive.integrity.keys().sign(sums).signature)


def test_the_package_carries_the_report_its_sealed_claims_and_custody_entry(
    sealed: Sealed, tmp_path: Path
) -> None:
    archive = sealed.archive
    package = archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    with archive.db.session() as session:
        report = session.scalars(select(Report)).one()
        added = session.scalars(
            select(CustodyEvent).where(CustodyEvent.action == "report_added")
        ).one()
        original = (archive.settings.storage.root / report.stored_path).read_bytes()
    assert added.details["sha256"] == report.sha256
    assert added.details["citations"] == 1 and len(added.details["citations_sha256"]) == 64
    with zipfile.ZipFile(package) as zf:
        assert zf.read("reports/report-1.txt") == original
        citations = zf.read("reports/report-1.citations.json")
        claims = json.loads(zf.read("claims.json"))
        entry = json.loads(zf.read(f"custody/entries/{added.seq:08d}.json"))
        certificate = zf.read("certificate.html").decode()
    assert hashlib.sha256(citations).hexdigest() == added.details["citations_sha256"]
    assert entry["action"] == "report_added" and entry["details"] == added.details
    [cited] = claims["reports"]
    assert cited["file"] == "reports/report-1.txt" and cited["custody_entry"] == added.seq
    [claim] = cited["claims"]
    assert claim["marker"] == "1" and claim["url"] == sealed.url and CLAIM in claim["context"]
    assert html.escape(claim["context"]) in certificate
    assert "reports/report-1.txt, custody entry 1" in certificate
    found = verify_package(package)
    assert _failures(found) == []
    lines = [f.line() for f in found]
    assert (
        "OK   claims.json: report 1 footnote 1: quoted as sealed when the report was added" in lines
    )
    assert (
        "OK   claims.json: report 1 footnote 1: the quote is in reports/report-1.txt "
        "(read again by this archiver)"
    ) in lines
    assert any(line.startswith("OK   manifest.json: sealed at custody entry 2") for line in lines)


def test_a_claim_edited_in_the_database_is_not_what_the_certificate_quotes(
    sealed: Sealed, tmp_path: Path
) -> None:
    """Before, the certificate's "Claim (context)" came from the editable row."""
    archive = sealed.archive
    with archive.db.session() as session:
        session.execute(update(Citation).values(context=EDITED))
    package = archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    with zipfile.ZipFile(package) as zf:
        certificate = zf.read("certificate.html").decode()
        assert CLAIM in certificate and EDITED not in certificate
        claims = json.loads(zf.read("claims.json"))
    assert CLAIM in claims["reports"][0]["claims"][0]["context"]
    assert _failures(verify_package(package)) == []


def test_a_changed_report_file_is_not_exported_and_nothing_is_logged(
    sealed: Sealed, tmp_path: Path
) -> None:
    archive = sealed.archive
    with archive.db.session() as session:
        path = archive.settings.storage.root / session.scalars(select(Report.stored_path)).one()
        entries = len(session.scalars(select(CustodyEvent)).all())
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data.replace(b"Kyzylorda", b"Kyzylordx"))
    with pytest.raises(IntegrityError, match=r"report 1: .* is not the file that was added"):
        archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    assert not (tmp_path / "p.zip").exists()
    with archive.db.session() as session:
        assert len(session.scalars(select(CustodyEvent)).all()) == entries


def test_a_forged_quote_fails_even_when_the_package_is_signed_again(
    sealed: Sealed, tmp_path: Path
) -> None:
    package = sealed.archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    folder = _extract(package, tmp_path / "x")
    claims = json.loads((folder / "claims.json").read_text())
    quote = claims["reports"][0]["claims"][0]["context"]
    claims["reports"][0]["claims"][0]["context"] = EDITED
    (folder / "claims.json").write_text(json.dumps(claims, indent=2))
    certificate = (folder / "certificate.html").read_text()
    (folder / "certificate.html").write_text(
        certificate.replace(html.escape(quote), html.escape(EDITED))
    )
    _resign(sealed, folder)
    failures = _failures(verify_package(folder))
    assert (
        "FAIL claims.json: report 1 footnote 1: not what the sealed citations say: "
        "the quote was changed"
    ) in failures, failures
    assert "FAIL claims.json: report 1 footnote 1: the quote is not in reports/report-1.txt" in (
        failures
    )
    # The sealed citations changed to match: they are no longer the sealed ones.
    citations = json.loads((folder / "reports/report-1.citations.json").read_bytes())
    citations[0]["context"] = EDITED
    (folder / "reports/report-1.citations.json").write_text(json.dumps(citations))
    _resign(sealed, folder)
    failures = _failures(verify_package(folder))
    assert (
        "FAIL reports/report-1.citations.json: not the citations sealed in custody entry 1 "
        "(sha256 differs)"
    ) in failures, failures


def test_a_certificate_quoting_something_else_fails(sealed: Sealed, tmp_path: Path) -> None:
    package = sealed.archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    folder = _extract(package, tmp_path / "x")
    certificate = (folder / "certificate.html").read_text()
    (folder / "certificate.html").write_text(certificate.replace("Kyzylorda", "Almaty"))
    _resign(sealed, folder)
    failures = _failures(verify_package(folder))
    assert failures == [
        "FAIL certificate.html: does not quote report 1 footnote 1 as claims.json does"
    ]


def test_manifests_record_their_custody_position_and_old_ones_still_verify(
    sealed: Sealed, tmp_path: Path
) -> None:
    archive = sealed.archive
    with archive.db.session() as session:
        seal = session.get(SnapshotSeal, sealed.snapshot_id)
        assert seal is not None
        chain = load_chain(session)
    manifest = json.loads(seal.manifest)
    # Sealed after report_added (1) and key_created (2), in the capture's transaction.
    assert manifest["custody"] == {"seq": 2, "head_hash": chain[1].entry_hash}
    # A manifest sealed before the field existed names no position: nothing to check.
    found = Findings()
    old = SimpleNamespace(manifest=b'{"format":"evidence-archiver/manifest/1","warc":{}}')
    _check_anchors(found, tmp_path / "empty", chain, {"old": old}, lambda _: None)  # type: ignore[dict-item]
    assert found == []
    package = archive.export(str(sealed.source_id), tmp_path / "p.zip", actor="t")
    folder = _extract(package, tmp_path / "x")
    found = Findings()
    without = {k: v for k, v in manifest.items() if k != "custody"}
    (folder / "manifest.json").write_text(json.dumps(without))
    check_claims(folder, found)
    assert not any(f.item == "manifest.json" for f in found)
    # A package whose chain lacks the manifest's position fails.
    lines = (folder / "custody/chain.jsonl").read_text().splitlines()
    (folder / "manifest.json").write_bytes(seal.manifest)
    (folder / "custody/chain.jsonl").write_text("\n".join(lines[:1]) + "\n")
    found = Findings()
    check_claims(folder, found)
    assert (
        "FAIL manifest.json: sealed at custody entry 2, which custody/chain.jsonl does not "
        "have with that hash"
    ) in _failures(found)
