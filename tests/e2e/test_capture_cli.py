"""``archiver capture`` as an operator runs it, against the simulated web."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import CliRunner
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.simweb.remote import Hit, Page, recording

pytestmark = pytest.mark.slow


def test_capture_then_status(cli: CliRunner, simweb: SimulatedWeb, tmp_path: Path) -> None:  # noqa: F811
    simweb.page("https://rus.azattyq.org/a/1.html", "<title>One</title><p>Claim one.</p>")
    simweb.page(
        "https://www.adilsoz.kz/doc.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"
    )
    report = tmp_path / "r.md"
    report.write_text(
        "A claim [^1]. A document [^2]. A dead link [^3].\n\n"
        "[^1]: https://rus.azattyq.org/a/1.html\n"
        "[^2]: https://www.adilsoz.kz/doc.pdf\n"
        "[^3]: https://gone.example.kz/x\n",
        encoding="utf-8",
    )
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
    }
    assert cli("add", str(report), env=env).returncode == 0
    result = cli("capture", env=env)
    assert result.returncode == 0, result.stderr
    # Not a terminal: no progress bar, one summary line.
    assert result.stdout.strip().splitlines() == [
        "captured 3 sources: 2 preserved; no response: dns x1"
    ]
    assert "Traceback" not in result.stderr
    status = json.loads(cli("status", "--format", "json", env=env).stdout)
    assert status["summary"]["preserved"] == 2
    by_url = {s["url"]: s for s in status["sources"]}
    pdf = by_url["https://www.adilsoz.kz/doc.pdf"]["snapshots"][0]
    assert pdf["methods"] == ["http"] and pdf["http_status"] == 200
    assert (tmp_path / "storage" / pdf["warc"]).is_file()
    # Nothing left to do; capturing one source again by its cited URL makes a second snapshot.
    assert cli("capture", env=env).stdout.startswith("nothing to capture")
    again = cli(
        "capture", "--json", "--source", "https://rus.azattyq.org/a/1.html?utm_source=x", env=env
    )
    line = json.loads(again.stdout)
    assert line["preserved"] is True and line["state"] == "live"
    status = json.loads(cli("status", "--format", "json", env=env).stdout)
    assert (
        len(
            {s["url"]: s for s in status["sources"]}["https://rus.azattyq.org/a/1.html"][
                "snapshots"
            ]
        )
        == 2
    )
    unknown = cli("capture", "--source", "999", env=env)
    assert (
        unknown.returncode == 1
        and unknown.stderr.strip() == "error: 999: no such source (give a source id or a cited URL)"
    )


def test_a_large_capture_is_spread_over_worker_processes(
    cli: CliRunner,
    simweb: SimulatedWeb,  # noqa: F811
    tmp_path: Path,
) -> None:
    """48 documents on 6 hosts, ``capture.workers = 2``: the CLI forks two workers, each
    fetching whole hosts, and every source is preserved."""
    hits: list[Hit] = []
    urls = []
    for h in range(6):
        for i in range(8):
            url = f"https://news{h}.example.kz/files/{h * 100 + i}.pdf"
            body = f"%PDF-1.4\n% document {h * 100 + i}\n%%EOF\n".encode()
            page = Page(url, body, "application/pdf")
            simweb.page(url, recording(page, lambda: simweb.port, hits))
            urls.append(url)
    report = tmp_path / "r.txt"
    lines = [f"Claim number {i}[{i}]." for i in range(1, len(urls) + 1)]
    lines += [f"[{i}]{u}" for i, u in enumerate(urls, 1)]
    report.write_text("\n\n".join(lines), encoding="utf-8")
    env = {
        "ARCHIVER_NETWORK__PROXY": simweb.proxy_url,
        "ARCHIVER_CAPTURE__PER_HOST_INTERVAL": "0",
        "ARCHIVER_CAPTURE__EXTRA_CA_FILE": str(simweb.ca_pem_path),
        "ARCHIVER_CAPTURE__MODES": '{default = ["http"]}',
        "ARCHIVER_CAPTURE__WORKERS": "2",
    }
    assert cli("add", str(report), env=env).returncode == 0
    result = cli("capture", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == ["captured 48 sources: 48 preserved"]
    assert "Traceback" not in result.stderr
    status = json.loads(cli("status", "--format", "json", env=env).stdout)
    assert status["summary"]["preserved"] == 48
    assert sorted(s["url"] for s in status["sources"]) == sorted(urls)
    for source in status["sources"]:
        [snapshot] = source["snapshots"]
        assert snapshot["http_status"] == 200 and snapshot["methods"] == ["http"]
        assert (tmp_path / "storage" / snapshot["warc"]).is_file()
    # Each page asked for once, by one of two processes forked by the CLI (not the CLI
    # itself, whose child workers they are), each process with whole hosts.
    assert sorted(hit.url for hit in hits) == sorted(urls)
    hosts: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        hosts[hit.pid].add(urlsplit(hit.url).hostname or "")
    assert len(hosts) == 2 and 0 not in hosts, hosts
    [cli_pid] = {hit.ppid for hit in hits}
    assert cli_pid not in hosts and cli_pid != os.getpid()
    assert sorted(len(h) for h in hosts.values()) == [3, 3]
