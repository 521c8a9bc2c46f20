"""Pinned keys (docs/integrity.md, "Publishing the key"): a package or store signed by a
key the organisation did not publish fails ``archiver verify --key`` (or
``integrity.trusted_keys``) and VERIFY.md's fingerprint check; without a pin, verify
prints the fingerprint it saw and says it must be compared with the published one.

The forgery, as the other side's expert made it: the same article with its text
changed, captured, signed and exported by another archiver (a new key), the timestamps
left pending. Before pinning, ``archiver verify`` passed it with two warnings and every
VERIFY.md command passed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from archiver.app import Archive
from archiver.cli import main
from archiver.integrity.verify import verify_package
from archiver.integrity.verify_store import verify_store
from archiver.models import SnapshotSeal
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import ARTICLE, CLAIM, integrity_settings
from tests.support.httpserver import Response, serve

TOOLS = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"
FORGED_ARTICLE = ARTICLE.replace("3 октября".encode(), "3 ноября".encode())
HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass
class Packages:
    genuine: Path
    forged: Path
    real_key: str
    forged_key: str
    archive: Archive
    tsa_ca: Path


@pytest.fixture
def packages(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Packages]:
    assert FORGED_ARTICLE != ARTICLE
    with serve({"/news/1.html": Response(200, ARTICLE, HTML)}) as server:
        url = server.url("/news/1.html")
        report = tmp_path / "digest.txt"
        report.write_text(f"Monitoring digest\n\n{CLAIM}[1].\n\n[1] {url}\n", encoding="utf-8")
        genuine_settings = integrity_settings(
            tmp_path / "genuine", f"sqlite:///{tmp_path / 'g.db'}", [local_tsa.url]
        )
        genuine_settings = genuine_settings.model_copy(
            update={
                "integrity": genuine_settings.integrity.model_copy(
                    update={"tsa_roots": (local_tsa.ca,)}
                )
            }
        )
        # The forger's TSA never answers (nothing listens on the discard port).
        forger_settings = integrity_settings(
            tmp_path / "forger", f"sqlite:///{tmp_path / 'f.db'}", ["http://127.0.0.1:9/tsr"]
        )
        with (
            Archive.open(genuine_settings, clock=clock) as archive,
            Archive.open(forger_settings, clock=clock) as forger,
        ):
            archive.add(str(report))
            archive.capture(actor="cli:monitor")
            archive.stamp_pending()
            genuine = archive.export(url, tmp_path / "genuine.zip", actor="cli:lawyer")
            server.routes["/news/1.html"] = Response(200, FORGED_ARTICLE, HTML)
            forger.add(str(report))
            forger.capture(actor="cli:monitor")
            forged = forger.export(url, tmp_path / "forged.zip", actor="cli:lawyer")
            yield Packages(
                genuine,
                forged,
                archive.integrity.keys().fingerprint,
                forger.integrity.keys().fingerprint,
                archive,
                local_tsa.ca,
            )


def _verify(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, ["verify", *args])


def test_a_forged_package_passes_only_while_the_key_is_not_pinned(packages: Packages) -> None:
    forged, genuine, real = str(packages.forged), str(packages.genuine), packages.real_key
    assert packages.forged_key != real
    # The forgery is internally consistent: without a pin nothing fails...
    unpinned = _verify(forged)
    assert unpinned.exit_code == 0, unpinned.output
    # ...but verify says, in one line, which key it saw and what to compare it with.
    [line] = [line for line in unpinned.output.splitlines() if packages.forged_key in line]
    assert "KEY" in line and "published" in line and "--key" in line
    assert unpinned.output.rstrip().splitlines()[-2] == line  # last, right above the result
    # Pinned to the organisation's key: the forgery fails, naming the key it carries.
    pinned = _verify("--key", real, forged)
    assert pinned.exit_code == 1, pinned.output
    failures = [line for line in pinned.output.splitlines() if line.startswith("FAIL")]
    assert any(packages.forged_key in f and "not a pinned key" in f for f in failures), failures
    assert pinned.output.rstrip().splitlines()[-1].startswith("FAILED:")
    # The genuine package passes with the same pin, and says the key is the pinned one.
    good = _verify("--key", real, genuine)
    assert good.exit_code == 0, good.output
    assert f"OK   key: {real}" in good.output
    assert "published" not in good.output.splitlines()[-2]
    # Another key pinned as well changes nothing; fingerprints are taken as published
    # (upper case, grouped, with a "sha256:" prefix).
    grouped = "SHA256:" + " ".join(re.findall("....", real.upper()))
    assert _verify("--key", "0" * 64, "--key", grouped, genuine).exit_code == 0
    # The setting pins as --key does.
    setting = {"ARCHIVER_INTEGRITY__TRUSTED_KEYS": f'["{real}"]'}
    assert _verify(forged, env=setting).exit_code == 1
    assert _verify(genuine, env=setting).exit_code == 0
    # A fingerprint that is not one is a usage error, not a silent pass.
    wrong = _verify("--key", "abc", genuine)
    assert wrong.exit_code == 2 and "fingerprint" in wrong.output


def test_verify_md_fails_the_forgery_against_the_published_key(
    packages: Packages, tmp_path: Path
) -> None:
    """Every VERIFY.md command, with PUBLISHED_KEYS set to the organisation's key as
    VERIFY.md asks: the genuine package passes, the forgery fails at its key."""
    if not (TOOLS / "wacz").exists():
        pytest.fail("wacz is not installed in .venv-tools (./dev test installs it)")
    results = {}
    for package in (packages.genuine, packages.forged):
        folder = tmp_path / package.stem
        subprocess.run(["unzip", "-q", str(package), "-d", str(folder)], check=True)
        text = (folder / "VERIFY.md").read_text()
        assert "PUBLISHED_KEYS" in text
        blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        script = "\n".join(
            b for b in blocks if not b.startswith("python3 -m venv") and "&& cd " not in b
        )
        env = {
            **os.environ,
            "PATH": f"{TOOLS}:{os.environ['PATH']}",
            "PUBLISHED_KEYS": packages.real_key,
        }
        results[package.stem] = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    genuine, forged = results["genuine"], results["forged"]
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert forged.returncode != 0, forged.stdout + forged.stderr
    # It stops at the key: the forged manifest's signature itself was never reached.
    assert "custody chain OK" not in forged.stdout


def test_keys_show_prints_the_fingerprint_to_publish(packages: Packages) -> None:
    settings = packages.archive.settings
    env = {
        "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
        "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
    }
    shown = CliRunner(env=env).invoke(main, ["keys", "show"])
    assert shown.exit_code == 0, shown.output
    real = packages.real_key
    assert f"fingerprint: {real}" in shown.output
    assert f"archiver verify --key {real}" in shown.output
    # The form docs/integrity.md tells organisations to publish, and VERIFY.md checks.
    assert f"Ed25519 signing key, SHA-256 fingerprint: {real}" in shown.output
    pem = zipfile.ZipFile(packages.genuine).read("key/public.pem")
    assert pem.decode() in shown.output


def test_verify_store_with_pins(packages: Packages) -> None:
    archive, real = packages.archive, packages.real_key
    assert not verify_store(archive, trusted=[real]).failed
    other = verify_store(archive, trusted=[packages.forged_key])
    failures = [f.line() for f in other if f.status == "fail"]
    assert any(real in f and "not a pinned key" in f for f in failures), failures
    unpinned = [f for f in verify_store(archive) if f.item == "KEY"]
    assert len(unpinned) == 1 and real in unpinned[0].detail


def test_a_key_made_later_cannot_claim_an_earlier_capture(
    packages: Packages, tmp_path: Path
) -> None:
    """The capture (entry 3) re-signed by a key rotated in afterwards (entry 5): each
    signature verifies, the key is even pinned, yet the key did not exist when the
    capture was sealed: verify fails, in the store and in the package."""
    archive = packages.archive
    event = archive.integrity.rotate_key("cli:admin", "test")
    keys = archive.integrity.keys()
    with archive.db.session() as session:
        seal = session.get(SnapshotSeal, _snapshot_id(packages.genuine))
        assert seal is not None
        manifest = bytes(seal.manifest)
        session.execute(
            update(SnapshotSeal)
            .where(SnapshotSeal.snapshot_id == seal.snapshot_id)
            .values(signature=keys.sign(manifest).signature, key_fingerprint=event.fingerprint)
        )
    pins = [packages.real_key, event.fingerprint]
    failures = [f.line() for f in verify_store(archive, trusted=pins) if f.status == "fail"]
    assert any(event.fingerprint[:16] in f and "before the key" in f for f in failures), failures
    package = archive.export(_source(packages), tmp_path / "later.zip", actor="t")
    failures = [f.line() for f in verify_package(package, trusted=pins) if f.status == "fail"]
    assert any("before the key" in f for f in failures), failures


def _snapshot_id(package: Path) -> str:
    return str(json.loads(zipfile.ZipFile(package).read("manifest.json"))["snapshot_id"])


def _source(packages: Packages) -> str:
    return str(json.loads(zipfile.ZipFile(packages.genuine).read("export.json"))["source_id"])
