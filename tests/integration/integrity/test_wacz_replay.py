"""The WACZ of an evidence package opens in the standard viewers: ReplayWeb.page (its own
files, from the pinned ``replaywebpage`` npm package ./dev test installs into
.tools-npm, served from 127.0.0.1 with the WACZ: no CDN) shows the captured page in
Chromium; ``wacz validate`` accepts it; its WARC is stored and without ZIP64 fields."""

from __future__ import annotations

import os
import struct
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FixedClock
from tests.integration.integrity.conftest import LocalTsa
from tests.integration.integrity.package_fixtures import Sealed, sealed_archive
from tests.support.range_files import REPLAY_FRAME, serve_files

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / ".venv-tools" / "bin"
REPLAYWEBPAGE = REPO / ".tools-npm" / "replaywebpage"
CHROMIUM = "/usr/bin/chromium"
SEEN = "3 октября в Кызылорде суд начал"  # the captured article's text


@pytest.fixture
def sealed(tmp_path: Path, clock: FixedClock, local_tsa: LocalTsa) -> Iterator[Sealed]:
    with sealed_archive(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", clock, local_tsa) as done:
        yield done


def _wacz(sealed: Sealed, folder: Path) -> Path:
    package = sealed.archive.export(str(sealed.source_id), folder / "p.zip", actor="cli:t")
    out = folder / "snapshot.wacz"
    with zipfile.ZipFile(package) as zf:
        out.write_bytes(zf.read("snapshot.wacz"))
    return out


def _zip64_extras(data: bytes, offset: int) -> list[int]:
    """The extra-field header ids of the local file header at ``offset``."""
    name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
    extra = data[offset + 30 + name_len : offset + 30 + name_len + extra_len]
    ids, at = [], 0
    while at + 4 <= len(extra):
        header, size = struct.unpack_from("<HH", extra, at)
        ids.append(header)
        at += 4 + size
    return ids


def test_the_warc_is_stored_without_zip64_and_wacz_validates(
    sealed: Sealed, tmp_path: Path
) -> None:
    wacz = _wacz(sealed, tmp_path)
    data = wacz.read_bytes()
    with zipfile.ZipFile(wacz) as zf:
        warcs = [i for i in zf.infolist() if i.filename.startswith("archive/")]
        assert len(warcs) == 1 and warcs[0].compress_type == zipfile.ZIP_STORED
        for info in zf.infolist():
            assert 0x0001 not in _zip64_extras(data, info.header_offset), info.filename
            assert info.extract_version < 45, info.filename  # 4.5: ZIP64
    assert b"PK\x06\x06" not in data[-200:]  # no ZIP64 end of central directory
    if not (TOOLS / "wacz").exists():
        pytest.fail("wacz is not installed in .venv-tools (./dev test installs it)")
    result = subprocess.run(
        [TOOLS / "wacz", "validate", "-f", wacz], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_replaywebpage_shows_the_captured_page(sealed: Sealed, tmp_path: Path) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not (REPLAYWEBPAGE / "ui.js").exists():
        pytest.fail("replaywebpage is not installed in .tools-npm (./dev test installs it)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Chromium is not installed (./dev test installs it)")
    site = tmp_path / "site"
    (site / "replay").mkdir(parents=True)
    _wacz(sealed, tmp_path).rename(site / "snapshot.wacz")
    (site / "ui.js").symlink_to(REPLAYWEBPAGE / "ui.js")
    (site / "replay" / "sw.js").symlink_to(REPLAYWEBPAGE / "sw.js")
    (site / "replay" / "index.html").write_text(REPLAY_FRAME, encoding="utf-8")
    (site / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><script src='ui.js'></script>"
        "</head><body><replay-web-page style='height:600px;display:block' "
        f"source='snapshot.wacz' url='{sealed.url}' replayBase='replay/' embed='replayonly'>"
        "</replay-web-page></body></html>",
        encoding="utf-8",
    )
    with serve_files(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.goto(f"{origin}/index.html", wait_until="load", timeout=30_000)
            found, deadline = "", time.monotonic() + 60
            while time.monotonic() < deadline and SEEN not in found:
                time.sleep(0.5)
                texts = []
                for frame in page.frames:
                    try:
                        texts.append(frame.evaluate("document.body ? document.body.innerText : ''"))
                    except PlaywrightError:  # a frame navigating away
                        continue
                found = "\n".join(texts)
            assert SEEN in found, found[-2000:]
        finally:
            browser.close()
