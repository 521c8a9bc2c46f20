"""The browser's requests go through the archiver's fetcher, and so through the address
guard: a captured page's subresources on loopback or cloud-metadata names, or IP
addresses in any spelling, never reach the proxy."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from archiver.app import Archive
from archiver.config import Settings
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access("/usr/bin/chromium", os.X_OK), reason="Debian's Chromium is not installed"
    ),
]

PAGE = "https://news.example/2026/05/detained.html"
LOCAL = [
    "http://localhost:8080/pixel.png",
    "https://api.localhost/x.js",
    "http://metadata.google.internal/computeMetadata/v1/project",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/tracker.gif",
]
HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Detained</title>"
    + "".join(f"<link rel='stylesheet' href='{u}'>" for u in LOCAL[:2])
    + "</head><body><p>A journalist was detained in Almaty.</p>"
    + "".join(f"<img src='{u}'>" for u in LOCAL)
    + "<img src='/ok.png'></body></html>"
)


def test_browser_subresources_on_local_names_never_reach_the_proxy(
    simweb: SimulatedWeb,  # noqa: F811
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    simweb.page(PAGE, HTML)
    simweb.page("https://news.example/ok.png", b"\x89PNG", content_type="image/png")
    for url in LOCAL:
        simweb.page(url, "would be served", content_type="text/plain")
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__page_budget="20",
        capture__per_host_interval="0",
    )
    report = tmp_path / "digest.md"
    report.write_text(f"A journalist was detained [^1].\n\n[^1]: {PAGE}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        [outcome] = archive.capture()
        assert outcome.preserved
    asked = {r.url for r in simweb.requests}
    assert PAGE in asked and "https://news.example/ok.png" in asked  # the browser ran
    assert not asked & set(LOCAL)
    assert all("localhost" not in c and "internal" not in c for c in simweb.connects)
