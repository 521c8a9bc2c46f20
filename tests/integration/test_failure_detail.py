"""No "other" without its reason (issue 20), end to end: a browser capture whose page
fetch fails in a way no failure kind foresees records kind "other" with the exception's
class and message, and shows it in `archiver capture --json`, in the status JSON and in
the snapshot's provenance record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.capture import runner as capture_runner
from archiver.capture._browser_types import BrowserRequest, FetchFn
from archiver.capture.exchange import Exchange
from archiver.capture.http import Fetcher
from archiver.cli import main
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access("/usr/bin/chromium", os.X_OK), reason="Debian's Chromium is not installed"
    ),
]

BROKEN = "https://news.example/2026/05/broken.html"
FINE = "https://news.example/2026/05/fine.html"


def test_other_is_shown_with_the_exception_everywhere(
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simweb.page(BROKEN, "<title>never fetched</title>")
    simweb.page(FINE, "<title>Fine</title><p>A hearing in Almaty.</p>")
    real = capture_runner.page_fetch

    def failing_page_fetch(fetcher: Fetcher) -> FetchFn:
        fetch = real(fetcher)

        async def maybe_raise(request: BrowserRequest) -> Exchange:
            if request.url == BROKEN:
                raise RuntimeError("the fetcher broke on purpose")
            return await fetch(request)

        return maybe_raise

    monkeypatch.setattr(capture_runner, "page_fetch", failing_page_fetch)
    report = tmp_path / "digest.md"
    report.write_text(f"Two hearings [^1] [^2].\n\n[^1]: {BROKEN}\n[^2]: {FINE}\n")
    cli = CliRunner(
        env={
            "ARCHIVER_STORAGE__ROOT": str(tmp_path / "storage"),
            "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
            "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
            "ARCHIVER_CAPTURE__MODES": '{article = ["browser"], default = ["browser"]}',
            "ARCHIVER_CAPTURE__PAGE_BUDGET": "20",
        }
    )
    assert cli.invoke(main, ["add", str(report)]).exit_code == 0
    captured = cli.invoke(main, ["capture", "--json"])
    assert captured.exit_code == 0, captured.output
    lines = {o["url"]: o for o in map(json.loads, captured.stdout.splitlines())}
    expected = f"{BROKEN}: the fetch raised: RuntimeError: the fetcher broke on purpose"
    broken = lines[BROKEN]
    assert (broken["failure"], broken["failure_detail"]) == ("other", expected)
    assert broken["preserved"] is False
    assert (lines[FINE]["failure"], lines[FINE]["failure_detail"]) == (None, None)

    status = json.loads(cli.invoke(main, ["status", "--format", "json"]).stdout)
    snapshots = {s["url"]: s["snapshots"] for s in status["sources"]}
    [snapshot] = snapshots[BROKEN]
    assert (snapshot["failure"], snapshot["failure_detail"]) == ("other", expected)
    assert snapshots[FINE][0]["failure_detail"] is None
    # No capture anywhere recorded "other" without the exception behind it.
    for shown in (s for listed in snapshots.values() for s in listed):
        if shown["failure"] == "other":
            assert "Error: " in shown["failure_detail"]

    warc = tmp_path / "storage" / snapshot["warc"]
    with warc.open("rb") as fh:
        [record] = [
            json.loads(r.content_stream().read())
            for r in ArchiveIterator(fh)
            if r.rec_type == "metadata"
        ]
    assert record["main"]["failure"] == "other"
    assert record["main"]["failure_detail"] == expected
