"""VERIFY.md years later (docs/integrity.md, "Timestamps in the far future"): every
command of a package stamped by two authorities, run under a clock 15 years ahead
(``faketime``), passes. Before: ``openssl ts -verify`` said "certificate has expired"
(no ``-attime``), and one ``TSA-ROOT.pem`` for two authorities failed the other's tokens.

Also: the package is extracted into a folder named after it (``unzip evidence-*.zip``
failed beside a second package), files added to a package are listed (``sha256sum -c``
does not notice them), and the PDF certificate keeps its words whole."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.app import Archive
from archiver.cli import main
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa, make_tsa_pki, serve_tsa
from tests.integration.integrity.package_fixtures import ARTICLE, CLAIM, integrity_settings
from tests.support.httpserver import Response, serve

TOOLS = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"
ARCHIVER = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "archiver"
AHEAD = "+15y"


def _require(*commands: str) -> None:
    for command in commands:
        if shutil.which(command) is None:
            pytest.fail(f"{command} is not installed (./dev test installs it)")
    if not (TOOLS / "wacz").exists():
        pytest.fail("wacz is not installed in .venv-tools (./dev test installs it)")


@pytest.fixture
def second_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    directory = tmp_path_factory.mktemp("tsa2")
    make_tsa_pki(directory, key_type="ec")
    with serve_tsa(directory) as tsa:
        yield tsa


@pytest.fixture
def exports(
    tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa, second_tsa: LocalTsa
) -> Iterator[tuple[Archive, Path, Path]]:
    """Two packages of one snapshot in one folder, stamped by two authorities."""
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    with serve({"/news/1.html": page}) as server:
        url = server.url("/news/1.html")
        report = tmp_path / "digest.txt"
        report.write_text(f"Monitoring digest\n\n{CLAIM}[1].\n\n[1] {url}\n", encoding="utf-8")
        settings = integrity_settings(
            tmp_path / "storage", f"sqlite:///{tmp_path / 'a.db'}", [local_tsa.url, second_tsa.url]
        )
        roots = (local_tsa.ca, second_tsa.ca)
        settings = settings.model_copy(
            update={"integrity": settings.integrity.model_copy(update={"tsa_roots": roots})}
        )
        with Archive.open(settings, clock=clock) as archive:
            archive.add(str(report))
            archive.capture(actor="cli:monitor")
            summary = archive.stamp_pending()
            assert (summary.granted, summary.pending) == (4, 0), summary.errors
            out = tmp_path / "exports"
            out.mkdir()
            first = archive.export(url, out, actor="cli:lawyer")
            clock.advance(minutes=1)
            second = archive.export(url, out / "evidence-again.zip", actor="cli:lawyer")
            yield archive, first, second


def _run(
    script: str, cwd: Path, *, ahead: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    command = ["bash", "-euo", "pipefail", "-c", script]
    if ahead:
        command = ["faketime", "-f", AHEAD, *command]
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _blocks(verify_md: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", verify_md, flags=re.S)


def test_every_verify_md_command_passes_fifteen_years_later(
    exports: tuple[Archive, Path, Path],
) -> None:
    _require("faketime", "openssl", "unzip")
    archive, package, _other = exports
    assert _run("date +%Y", package.parent).stdout.strip() >= "2040"  # faketime works
    text = zipfile.ZipFile(package).read("VERIFY.md").decode()
    blocks = _blocks(text)
    [extract] = [b for b in blocks if "&& cd " in b]
    # Extracting works in a folder that holds another package, into one named after it.
    assert package.stem in extract
    done = _run(extract, package.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = package.parent / package.stem
    assert (folder / "VERIFY.md").is_file()
    # One root per authority, named after it, bundled with where it came from.
    listing = json.loads((folder / "timestamps" / "timestamps.json").read_text())
    roots = {s["tsa_url"]: s["root"] for s in listing if s["file"]}
    assert len(set(roots.values())) == 2, roots
    for tsa_url, root in roots.items():
        assert (folder / root).is_file() and urlsplit_host(tsa_url) in root
    assert all("integrity.tsa_roots" in s["root_source"] for s in listing if s["file"])
    script = "\n".join(b for b in blocks if b != extract and not b.startswith("python3 -m venv"))
    key = archive.integrity.keys().fingerprint
    done = _run(script, folder, PUBLISHED_KEYS=key)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "expired" not in out
    assert out.count("Verification: OK") == 4  # two authorities: manifest and custody head
    assert out.count("-attime") == 0 and script.count("-attime") == 4
    assert "custody chain OK" in out and "Validation succeeded" in out
    # archiver verify does the same, at the same clock, naming each token's root.
    verify = subprocess.run(
        ["faketime", "-f", AHEAD, str(ARCHIVER), "verify", "--key", key, str(package)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    chained = [line for line in verify.stdout.splitlines() if "chains to timestamps/roots/" in line]
    assert len(chained) == 4, verify.stdout


def urlsplit_host(url: str) -> str:
    from urllib.parse import urlsplit

    return str(urlsplit(url).hostname)


def test_openssl_without_attime_or_with_one_root_fails_later(
    exports: tuple[Archive, Path, Path],
) -> None:
    """What the test above guards against, shown with the same tokens."""
    _require("faketime", "openssl")
    _archive, package, _other = exports
    folder = package.parent / "x"
    zipfile.ZipFile(package).extractall(folder)
    [first, second] = [
        s for s in json.loads((folder / "timestamps" / "timestamps.json").read_text()) if s["file"]
    ][:2]
    assert first["root"] != second["root"]

    def ts_verify(stamp: dict[str, str], root: str, attime: bool) -> str:
        line = (
            f"openssl ts -verify -data {stamp['subject']} -in {stamp['file']} -token_in "
            f"-CAfile {root} -untrusted {stamp['certificates']}"
        )
        if attime:
            at = datetime.fromisoformat(stamp["gen_time"].replace("Z", "+00:00"))
            line += f" -attime {int(at.timestamp())}"
        done = _run(line, folder)
        return done.stdout + done.stderr

    assert "expired" in ts_verify(first, first["root"], attime=False)
    assert "Verification: OK" in ts_verify(first, first["root"], attime=True)
    assert "Verification: OK" not in ts_verify(second, first["root"], attime=True)


def test_files_added_to_a_package_are_listed(exports: tuple[Archive, Path, Path]) -> None:
    _require("unzip")
    _archive, package, _other = exports
    with zipfile.ZipFile(package, "a") as zf:
        zf.writestr("statement.txt", "I, the undersigned, saw the page.\n")
    text = zipfile.ZipFile(package).read("VERIFY.md").decode()
    [extract] = [b for b in _blocks(text) if "&& cd " in b]
    assert _run(extract, package.parent, ahead=False).returncode == 0
    folder = package.parent / package.stem
    section = text.split("## 1.", 1)[1].split("## 2.", 1)[0]
    [block] = _blocks(section)
    assert _run("sha256sum -c --quiet SHA256SUMS", folder, ahead=False).returncode == 0
    done = _run(block, folder, ahead=False)
    assert done.returncode != 0
    assert "statement.txt" in done.stdout + done.stderr
    # archiver verify names it too.
    result = CliRunner().invoke(main, ["verify", str(package)])
    assert result.exit_code == 1 and "statement.txt: not listed in SHA256SUMS" in result.output


def test_the_pdf_certificate_keeps_words_whole(
    exports: tuple[Archive, Path, Path], tmp_path: Path
) -> None:
    _require("pdftotext", "pdftoppm")
    _archive, package, _other = exports
    with zipfile.ZipFile(package) as zf:
        (tmp_path / "c.pdf").write_bytes(zf.read("certificate.pdf"))
        manifest = json.loads(zf.read("manifest.json"))
    # The first page renders (as a viewer would show it)...
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000
    # ...and its text comes out in whole words: labels, the claim, the hashes.
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "c.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    words = {w.strip(".,;:()") for w in text.split()}
    wanted = ["Footnote", "Evidence", "certificate", "Observations", "custody", "Report"]
    wanted += CLAIM.split()
    wanted += [manifest["warc"]["sha256"], manifest["main_payload"]["sha256"]]
    missing = [w for w in wanted if w not in words]
    assert not missing, f"not whole in the PDF text: {missing}\n{text}"
    assert "Footno" not in words
