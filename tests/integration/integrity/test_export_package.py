"""Export an evidence package and check it with independent tools only: the exact
commands of its VERIFY.md (sha256sum, openssl pkeyutl / ts, warcio, wacz, python3), then
``archiver verify`` on the same package; and what export records and refuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.cli import main
from archiver.errors import ArchiverError
from archiver.integrity._verify_doc import install_command
from archiver.integrity.custody import verify_stored_chain
from archiver.integrity.verify import verify_package
from archiver.models import CustodyEvent
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import CLAIM, Sealed, sealed_archive

TOOLS = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"


@pytest.fixture
def sealed(
    tmp_path: Path, database_url: str, clock: FixedClock, local_tsa: LocalTsa
) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, database_url, clock, local_tsa) as done:
        yield done


@pytest.fixture
def sqlite_sealed(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa) as done:
        yield done


def _commands(verify_md: str) -> str:
    """Every shell block of VERIFY.md except installing the tools (the tests run the same
    versions from .venv-tools) and the extraction step, as one script."""
    blocks = re.findall(r"```sh\n(.*?)```", verify_md, flags=re.S)
    skipped = ("python3 -m venv", "unzip evidence-")
    return "\n".join(b for b in blocks if not b.startswith(skipped))


def _save_tsa_root(folder: Path, verify_md: str, ca: Path) -> None:
    """The fixture's TSA root is not bundled (integrity.tsa_roots unset, and no trust
    store has it): saved where VERIFY.md asks for it, as a verifier would."""
    for name in set(re.findall(r"-CAfile (\S+)", verify_md)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(ca.read_bytes())


def test_verify_md_commands_pass_with_independent_tools(sealed: Sealed, tmp_path: Path) -> None:
    if not (TOOLS / "wacz").exists():
        pytest.fail("wacz is not installed in .venv-tools (./dev test installs it)")
    package = sealed.archive.export(str(sealed.source_id), tmp_path, actor="cli:lawyer")
    folder = tmp_path / "evidence"
    subprocess.run(["unzip", "-q", str(package), "-d", str(folder)], check=True)
    text = (folder / "VERIFY.md").read_text()
    _save_tsa_root(folder, text, sealed.tsa.ca)
    script = _commands(text)
    assert install_command() in text  # the versions .venv-tools has (test_warcio_codings.py)
    # The commands VERIFY.md promises, each of which must be there.
    for needed in (
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey key/public.pem -rawin -in manifest.json",
        "openssl ts -verify -data manifest.json -in timestamps/manifest-1.tsr -token_in",
        "openssl ts -verify -data custody/head.json",
        "warcio check -v wacz/archive/",
        "wacz validate -f snapshot.wacz",
        "sha256sum -c entries.sha256",
    ):
        assert needed in script
    env = {
        **os.environ,
        "PATH": f"{TOOLS}:{os.environ['PATH']}",
        "PUBLISHED_KEYS": sealed.archive.integrity.keys().fingerprint,
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert out.count("Signature Verified Successfully") == 3  # sums, manifest, head
    assert out.count("Verification: OK") == 2  # manifest and custody head tokens
    assert "Validation succeeded" in out and "digest pass" in out
    assert "FAILED" not in out and "custody chain OK" in out
    fingerprint = (folder / "key" / "fingerprint.txt").read_text().strip()
    assert f"{fingerprint}  -" in out  # the key fingerprint recomputed by openssl + sha256sum


def test_openssl_refuses_a_token_against_another_root(
    sqlite_sealed: Sealed, tmp_path: Path
) -> None:
    """The TSA check really depends on the root given: a wrong CA fails."""
    package = sqlite_sealed.archive.export(str(sqlite_sealed.source_id), tmp_path, actor="t")
    folder = tmp_path / "x"
    zipfile.ZipFile(package).extractall(folder)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "o.key",
            "-out",
            "other.pem",
            "-days",
            "1",
            "-subj",
            "/CN=Other Root",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            "manifest.json",
            "-in",
            "timestamps/manifest-1.tsr",
            "-token_in",
            "-CAfile",
            "other.pem",
            "-untrusted",
            "timestamps/manifest-1-certs.pem",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0


def test_archiver_verify_accepts_the_package_and_lists_each_check(
    sqlite_sealed: Sealed, tmp_path: Path
) -> None:
    package = sqlite_sealed.archive.export(sqlite_sealed.url, tmp_path / "p.zip", actor="t")
    result = CliRunner().invoke(main, ["verify", str(package)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    for item in (
        "SHA256SUMS: Ed25519 signature (SHA256SUMS.sig) verifies",
        "manifest.json: Ed25519 signature (manifest.sig) verifies",
        "custody/head.json: Ed25519 signature (head.sig) verifies",
        "timestamps/manifest-1.tsr: RFC 3161 token stamps manifest.json",
        "custody/chain.jsonl: 4 entries link",
        "snapshot.wacz:archive/",
    ):
        assert f"OK   {item}" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("VERIFIED:")
    # The extracted folder verifies the same way.
    zipfile.ZipFile(package).extractall(tmp_path / "x")
    assert not verify_package(tmp_path / "x").failed


def test_export_is_logged_and_the_certificate_names_claim_and_history(
    sqlite_sealed: Sealed, tmp_path: Path
) -> None:
    archive, clock = sqlite_sealed.archive, sqlite_sealed.clock
    clock.advance(hours=1)
    package = archive.export(str(sqlite_sealed.source_id), tmp_path / "p.zip", actor="cli:lawyer")
    with archive.db.session() as session:
        events = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
        assert [e.action for e in events] == ["report_added", "key_created", "capture", "export"]
        export = events[-1]
        assert (export.actor, export.subject_id) == ("cli:lawyer", sqlite_sealed.snapshot_id)
        assert export.details["package"] == "p.zip"
        assert events[1].actor == "cli:tester"
        assert verify_stored_chain(session).ok
    with zipfile.ZipFile(package) as zf:
        html = zf.read("certificate.html").decode()
        manifest = json.loads(zf.read("manifest.json"))
        exported = json.loads(zf.read("export.json"))
        pdf = zf.read("certificate.pdf")
        entries = [n for n in zf.namelist() if n.startswith("custody/entries/")]
    assert manifest["source"]["url"] == sqlite_sealed.url
    assert manifest["source"]["cited_as"] == [sqlite_sealed.url]
    assert manifest["warc"]["sha256"] in html and manifest["snapshot_id"] in html
    assert CLAIM in html and "Monitoring digest" in html  # the claim and the citing report
    assert "2026-01-02T03:04:05.000000Z" in html  # capture time
    assert "live" in html and "capture" in html  # the observation history
    assert "by " + sqlite_sealed.tsa.url in html  # the timestamp, with its TSA
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000
    assert (
        exported["actor"] == "cli:lawyer"
        and exported["exported_at"] == "2026-01-02T04:04:10.000000Z"
    )
    assert len(entries) == 4  # report added, key created, capture, export


def test_export_refuses_to_overwrite_and_names_unknown_things(
    sqlite_sealed: Sealed, tmp_path: Path
) -> None:
    archive = sqlite_sealed.archive
    target = tmp_path / "p.zip"
    target.write_bytes(b"precious")
    with pytest.raises(ArchiverError, match="never overwrites"):
        archive.export(str(sqlite_sealed.source_id), target, actor="t")
    assert target.read_bytes() == b"precious"
    with pytest.raises(ArchiverError, match="no such source"):
        archive.export("999", tmp_path / "q.zip", actor="t")
    with pytest.raises(ArchiverError, match="has no snapshot nope"):
        archive.export(
            str(sqlite_sealed.source_id), tmp_path / "q.zip", snapshot_id="nope", actor="t"
        )
    assert not (tmp_path / "q.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_cli_writes_into_a_folder(sqlite_sealed: Sealed, tmp_path: Path) -> None:
    settings = sqlite_sealed.archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
        "ARCHIVER_INTEGRITY__TSA_URLS": json.dumps(list(settings.integrity.tsa_urls)),
    }
    out = tmp_path / "exports"
    out.mkdir()
    result = CliRunner(env=env).invoke(
        main,
        [
            "export",
            str(sqlite_sealed.source_id),
            "--snapshot",
            sqlite_sealed.snapshot_id,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    [written] = list(out.iterdir())
    assert (
        written.name
        == f"evidence-source{sqlite_sealed.source_id}-{sqlite_sealed.snapshot_id[:8]}.zip"
    )
    assert not verify_package(written).failed


def test_after_a_key_rotation_both_keys_are_in_the_package_and_it_verifies(
    sqlite_sealed: Sealed, tmp_path: Path
) -> None:
    """The manifest keeps the signature of the key that sealed it; the new key signs the
    sums and the custody head. VERIFY.md's commands pass with both."""
    archive = sqlite_sealed.archive
    old = archive.integrity.keys().fingerprint
    new = archive.integrity.rotate_key("cli:admin", "rotation").fingerprint
    package = archive.export(str(sqlite_sealed.source_id), tmp_path / "p.zip", actor="t")
    assert not verify_package(package).failed
    folder = tmp_path / "x"
    zipfile.ZipFile(package).extractall(folder)
    assert (folder / "key" / "fingerprint.txt").read_text().strip() == new
    assert (folder / "key" / "manifest-fingerprint.txt").read_text().strip() == old
    actions = [
        json.loads(p.read_bytes())["action"]
        for p in sorted((folder / "custody" / "entries").iterdir())
    ]
    assert actions == ["report_added", "key_created", "capture", "key_rotated", "export"]
    _save_tsa_root(folder, (folder / "VERIFY.md").read_text(), sqlite_sealed.tsa.ca)
    script = _commands((folder / "VERIFY.md").read_text())
    script = "\n".join(
        line for line in script.splitlines() if "wacz" not in line and "warcio" not in line
    )
    assert "-inkey key/manifest-public.pem -rawin -in manifest.json" in script
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env={**os.environ, "PUBLISHED_KEYS": f"{old} {new}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("Signature Verified Successfully") == 3
    # Swapping the two keys is caught: the manifest no longer verifies.
    (folder / "key" / "manifest-public.pem").write_bytes(
        (folder / "key" / "public.pem").read_bytes()
    )
    failures = [f.line() for f in verify_package(folder) if f.status == "fail"]
    assert any(
        "manifest.json: Ed25519 signature (manifest.sig) does not verify" in f for f in failures
    )
