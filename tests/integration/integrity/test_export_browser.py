"""A real browser capture through the simulated web, exported: the package carries the
screenshot (file, HTML and PDF certificate), its WACZ validates and replays in pywb."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.integrity.verify import verify_package
from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = pytest.mark.slow

ARTICLE = "https://rus.azattyq.org/a/32064219.html"
HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Суд над активистом</title></head>"
    "<body style='background:#fc0'><h1>Суд над активистом</h1><p>3 октября в Кызылорде суд "
    "начал рассмотрение дела.</p></body></html>"
).encode()
TOOLS = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_browser_snapshot_package_has_screenshot_and_replays_in_pywb(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    local_tsa: LocalTsa,
    tmp_path: Path,
) -> None:
    if not (TOOLS / "wayback").exists() or not (TOOLS / "wacz").exists():
        pytest.fail("pywb and wacz must be installed in .venv-tools (./dev test installs them)")
    simweb.page(ARTICLE, HTML)
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__page_budget="20",
        capture__per_host_interval="0",
        # The TSA on localhost is reached directly, not through the proxy.
        integrity__tsa_urls=json.dumps([local_tsa.url]),
    )
    report = tmp_path / "digest.md"
    report.write_text(f"A trial began in Kyzylorda [^57].\n\n[^57]: {ARTICLE}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        [outcome] = archive.capture()
        assert outcome.preserved
        assert archive.stamp_pending().granted == 2
        package = archive.export(ARTICLE, tmp_path / "fn57.zip", actor="cli:lawyer")
    assert not verify_package(package).failed
    folder = tmp_path / "pkg"
    zipfile.ZipFile(package).extractall(folder)
    png = (folder / "screenshot.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [a["kind"] for a in manifest["artefacts"]] == ["dom", "pdf", "screenshot"]
    html = (folder / "certificate.html").read_text()
    assert "data:image/png;base64," in html and "[^57]" not in html and ">57<" in html
    assert b"/Subtype /Image" in (folder / "certificate.pdf").read_bytes()
    done = subprocess.run(
        [str(TOOLS / "wacz"), "validate", "-f", str(folder / "snapshot.wacz")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "Validation succeeded" in done.stdout, done.stdout
    collections = tmp_path / "pywb"
    collections.mkdir()
    for args in (["init", "evidence"], ["add", "--unpack-wacz", "evidence", str(folder / "snapshot.wacz")]):  # fmt: skip
        subprocess.run([str(TOOLS / "wb-manager"), *args], cwd=collections, check=True, capture_output=True)  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [str(TOOLS / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=collections,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        replay = f"http://127.0.0.1:{port}/evidence/20260102030405id_/{ARTICLE}"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(replay, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200 and response.content == HTML
    finally:
        server.terminate()
        server.wait(timeout=10)
