"""``archiver export --report ID``: a report's packages and a signed, timestamped index,
written by the real CLI from a real capture (local HTTP server, local openssl TSA), and
checked by ``archiver verify`` and by the standard tools VERIFY.md names."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import Archive
from archiver.cli import main
from archiver.integrity.verify_report import verify_report_export
from archiver.models import CustodyEvent
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import ARTICLE, integrity_settings
from tests.support.httpserver import Response, serve


@dataclass
class World:
    archive: Archive
    env: dict[str, str]
    report_id: int
    tsa: LocalTsa


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tsa_url(local_tsa: LocalTsa) -> str:
    return local_tsa.url


@pytest.fixture
def world(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa, tsa_url: str) -> Iterator[World]:
    """A report of four footnotes: an article cited twice (one package), a page that
    answers 404 and a host that refuses connections (never preserved: no package)."""
    page = Response(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"})
    gone = Response(404, b"<h1>Not found</h1>", {"Content-Type": "text/html"})
    with serve({"/news/1.html": page, "/news/gone.html": gone}) as server:
        settings = integrity_settings(
            tmp_path / "storage", f"sqlite:///{tmp_path / 'a.db'}", [tsa_url]
        )
        refused = f"http://127.0.0.1:{_closed_port()}/post/7"
        report = tmp_path / "report.txt"
        report.write_text(
            "Monitoring digest\n\nA trial began in Kyzylorda[1]. It was adjourned[2].\n"
            "The post was deleted[3]. Суд отложен[4].\n\n"
            f"[1] {server.url('/news/1.html')}\n[2] {server.url('/news/1.html')}\n"
            f"[3] {server.url('/news/gone.html')}\n[4] {refused}\n",
            encoding="utf-8",
        )
        with Archive.open(settings, clock=clock) as archive:
            [outcome] = [archive.add(str(report))]
            archive.capture(actor="cli:tester")
            clock.advance(seconds=5)
            archive.stamp_pending()
            env = {
                "ARCHIVER_STORAGE__ROOT": str(settings.storage.root),
                "ARCHIVER_STORAGE__DATABASE_URL": settings.storage.database_url,
                "ARCHIVER_INTEGRITY__TSA_URLS": json.dumps([tsa_url]),
                "ARCHIVER_NETWORK__ALLOW_PRIVATE_NETWORKS": "true",
            }
            yield World(archive, env, outcome.report_id, local_tsa)


def _export(world: World, out: Path) -> tuple[int, str]:
    result = CliRunner(env=world.env).invoke(
        main, ["export", "--report", str(world.report_id), "--out", str(out)]
    )
    return result.exit_code, result.output


def test_report_export_zip_lists_every_footnote_and_verifies(world: World, tmp_path: Path) -> None:
    code, output = _export(world, tmp_path / "report-1.zip")
    assert code == 0, output
    assert "4 footnotes, 3 sources: 1 packages, 2 sources without a package" in output
    with zipfile.ZipFile(tmp_path / "report-1.zip") as zf:
        names = zf.namelist()
        index = zf.read("index.csv").decode("utf-8")
        page = zf.read("index.html").decode("utf-8")
        sums = zf.read("SHA256SUMS").decode()
        packages = [n for n in names if n.startswith("packages/")]
        digest = {n: __import__("hashlib").sha256(zf.read(n)).hexdigest() for n in packages}
    assert len(packages) == 1 and packages[0].endswith(".zip")
    assert index.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(index.lstrip("\ufeff"))))
    assert [r["footnote"] for r in rows] == ["1", "2", "3", "4"]
    # Footnotes 1 and 2 cite one source: one package, its sha256 in the index and sums.
    assert rows[0]["package"] == rows[1]["package"] == packages[0]
    assert rows[0]["package_sha256"] == digest[packages[0]]
    assert f"{digest[packages[0]]}  {packages[0]}" in sums
    assert rows[0]["timestamp"] == "granted" and rows[0]["http_status"] == "200"
    # Never preserved: in the index, with the program's own reason.
    assert rows[2]["package"] == "" and "HTTP 404" in rows[2]["no_package"]
    assert rows[3]["package"] == "" and "capture failed" in rows[3]["no_package"]
    assert rows[3]["claim"].endswith("Суд отложен.")
    assert "no package: not preserved: capture failed" in page
    for listed in ("index.csv", "index.html", "index.json", "key/public.pem"):
        assert re.search(rf"^[0-9a-f]{{64}}  {re.escape(listed)}$", sums, re.M)
    # archiver verify: signature, timestamp, every package's sha256 and contents.
    result = CliRunner(env=world.env).invoke(main, ["verify", str(tmp_path / "report-1.zip")])
    assert result.exit_code == 0, result.output
    assert "OK   SHA256SUMS: Ed25519 signature (SHA256SUMS.sig) verifies" in result.output
    assert "RFC 3161 token stamps SHA256SUMS" in result.output
    assert f"OK   {packages[0]}: sha256 matches SHA256SUMS" in result.output
    assert f"OK   {packages[0]}: snapshot.wacz" in result.output  # the package itself
    assert "(citation 3): no package: not preserved: capture failed (HTTP 404" in result.output
    assert result.output.count("WARN KEY: signed by") == 1
    # Custody: an export entry for the package, and the export_report entry last.
    with world.archive.db.session() as session:
        events = session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
    assert [e.action for e in events[-2:]] == ["export", "export_report"]
    assert events[-1].details["packages"] == 1 and events[-1].details["without_package"] == 2


def test_a_changed_package_or_index_fails_verify(world: World, tmp_path: Path) -> None:
    out = tmp_path / "folder-export"
    code, output = _export(world, out)
    assert code == 0, output
    assert not verify_report_export(out).failed
    index = out / "index.csv"
    index.write_bytes(index.read_bytes().replace(b"HTTP 404", b"HTTP 200"))
    [package] = list((out / "packages").iterdir())
    with package.open("ab") as fh:
        fh.write(b"\0")
    failed = {f.item for f in verify_report_export(out) if f.status == "fail"}
    assert {"index.csv", f"packages/{package.name}"} <= failed
    result = CliRunner(env=world.env).invoke(main, ["verify", str(out)])
    assert result.exit_code == 1 and "FAILED" in result.output


def test_verify_md_commands_pass_with_standard_tools(world: World, tmp_path: Path) -> None:
    out = tmp_path / "export"
    code, output = _export(world, out)
    assert code == 0, output
    text = (out / "VERIFY.md").read_text()
    for name in set(re.findall(r"-CAfile (\S+)", text)):  # the test TSA's root: not bundled
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(world.tsa.ca.read_bytes())
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    script = "\n".join(b for b in blocks if "archiver verify" not in b)
    script = script.replace("PUBLISHED_KEYS='...'\n", "")
    env = {**os.environ, "PUBLISHED_KEYS": world.archive.integrity.keys().fingerprint}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout + done.stderr
    assert "Verification: OK" in done.stdout + done.stderr
    assert "FAILED" not in done.stdout


def test_unreachable_tsa_leaves_the_index_signed_and_says_so(world: World, tmp_path: Path) -> None:
    world.tsa.mode = "http500"
    code, output = _export(world, tmp_path / "r.zip")
    assert code == 0, output
    assert "warning: the index has no trusted timestamp" in output and "HTTP 500" in output
    found = verify_report_export(tmp_path / "r.zip")
    assert not found.failed
    assert any(f.status == "warn" and f.item == "SHA256SUMS" for f in found)


def test_refuses_an_unknown_report_and_an_existing_target(world: World, tmp_path: Path) -> None:
    result = CliRunner(env=world.env).invoke(
        main, ["export", "--report", "99", "--out", str(tmp_path / "x.zip")]
    )
    assert result.exit_code == 1 and "no report 99" in result.output
    (tmp_path / "taken.zip").write_bytes(b"mine")
    code, output = _export(world, tmp_path / "taken.zip")
    assert code == 1 and "never overwrites" in output
    assert (tmp_path / "taken.zip").read_bytes() == b"mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
