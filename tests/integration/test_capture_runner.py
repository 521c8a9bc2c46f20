"""Capture end to end: sources harvested from a report, captured through the simulated
web into WARC files that warcio checks, with the database agreeing with the files."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.capture.warc import verify_warc
from archiver.config import Settings
from archiver.models import Observation, Snapshot, Source
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb, status
from tests.simweb.fixtures import simweb  # noqa: F401
from tests.support.verify_tools import warcio_check

pytestmark = pytest.mark.slow

ARTICLE = "https://rus.azattyq.org/a/32064219.html"
ARTICLE_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Суд над активистом</title></head>"
    "<body><article><h1>Суд над активистом</h1><p>3 октября в Кызылорде суд начал "
    "рассмотрение дела.</p><img src='/img/photo.png'></article></body></html>"
).encode()
ARTICLE_GZ = gzip.compress(ARTICLE_HTML, mtime=0)
JS_PAGE = "https://orda.kz/js-rendered-report/"
JS_HTML = b"""<!doctype html><html><head><title>Live blog</title></head><body>
<div id="app">loading</div>
<script>
document.getElementById('app').textContent = 'Rendered by script: detention in Almaty.';
fetch('/api/updates.json').then(r => r.json()).then(d => {
  const p = document.createElement('p'); p.id = 'xhr'; p.textContent = d.update;
  document.body.appendChild(p);
});
</script></body></html>"""
XHR_JSON = json.dumps({"update": "XHR says: the court postponed the hearing"}).encode()
DOCUMENT = "https://www.adilsoz.kz/files/report-2022.pdf"
PDF_BYTES = b"%PDF-1.4\n% a tiny placeholder document\n%%EOF\n"
GONE = "https://kaztag.kz/ru/news/deleted-article"
NO_HOST = "https://vanished-outlet.kz/a/1"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)

REPORT = f"""Monitoring digest

October 3, Kyzylorda, a trial began[1]. A live blog followed the hearing[2].
The lawyers' report was published[3]. The agency's story was later deleted[4].
The outlet itself is gone[5].

[1]{ARTICLE}?utm_source=fb
[2]{JS_PAGE}
[3]{DOCUMENT}
[4]{GONE}
[5]{NO_HOST}
"""


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    simweb.page(ARTICLE, ARTICLE_GZ, headers={"Content-Encoding": "gzip"})
    # The article is cited with a tracking parameter, and fetched as cited: the site
    # serves it whatever the query says, as the real one does.
    simweb.page(f"{ARTICLE}?utm_source=fb", ARTICLE_GZ, headers={"Content-Encoding": "gzip"})
    simweb.page("https://rus.azattyq.org/img/photo.png", PNG, content_type="image/png")
    simweb.page(JS_PAGE, JS_HTML)
    simweb.page("https://orda.kz/api/updates.json", XHR_JSON, content_type="application/json")
    simweb.page(DOCUMENT, PDF_BYTES, content_type="application/pdf")
    simweb.host("kaztag.kz")
    simweb.dns_failure("vanished-outlet.kz")
    return simweb


@pytest.fixture
def captured(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> Iterator[Archive]:
    settings = make_settings(
        network__proxy=web.proxy_url,
        capture__extra_ca_file=str(web.ca_pem_path),
        capture__page_budget="20",
        capture__per_host_interval="0",
    )
    report = tmp_path / "digest.txt"
    report.write_text(REPORT, encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert len(outcomes) == 5
        assert not [o.error for o in outcomes if o.error]
        yield archive


def _snapshots(archive: Archive) -> dict[str, Snapshot]:
    with archive.db.session() as session:
        rows = session.execute(select(Source.url, Snapshot).join(Snapshot.source)).all()
    return {url: snapshot for url, snapshot in rows}


def _records(path: Path) -> list[tuple[str, str, bytes]]:
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            out.append(
                (
                    record.rec_type,
                    record.rec_headers.get_header("WARC-Target-URI") or "",
                    record.content_stream().read(),
                )
            )
    return out


def test_every_warc_passes_warcio_check_and_matches_the_database(captured: Archive) -> None:
    root = captured.settings.storage.root
    snapshots = _snapshots(captured)
    assert len(snapshots) == 5
    for snapshot in snapshots.values():
        path = root / snapshot.warc_path
        # The warcio VERIFY.md names (the project's own cannot read br beside brotli).
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest pass" in check.stdout
        report = verify_warc(
            path, expected_sha256=snapshot.warc_sha256, expected_size=snapshot.warc_size
        )
        assert report.ok, report.failures()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == snapshot.warc_sha256
        assert path.stat().st_size == snapshot.warc_size
        # Artefact hashes in the database are those of the resource records' payloads.
        resources = {uri: body for kind, uri, body in _records(path) if kind == "resource"}
        for artefact in snapshot.artefacts:
            assert hashlib.sha256(resources[artefact["uri"]]).hexdigest() == artefact["sha256"]


def test_article_gets_both_captures_with_bytes_as_sent(captured: Archive) -> None:
    snapshot = _snapshots(captured)[ARTICLE]
    assert snapshot.methods == ["http", "browser"]
    assert snapshot.http_status == 200
    assert snapshot.tls_verified is True
    # The payload is stored as the server sent it: gzip-compressed.
    assert snapshot.payload_sha256 == hashlib.sha256(ARTICLE_GZ).hexdigest()
    kinds = {a["kind"] for a in snapshot.artefacts}
    assert kinds == {"screenshot", "dom", "pdf"}
    records = _records(captured.settings.storage.root / snapshot.warc_path)
    assert records[0][0] == "warcinfo"
    responses = [uri for kind, uri, _ in records if kind == "response"]
    # Once plain, once as the browser fetched it: both the URL as cited, tracking and all.
    assert responses.count(f"{ARTICLE}?utm_source=fb") == 2
    assert "https://rus.azattyq.org/img/photo.png" in responses
    metadata = [json.loads(body) for kind, _, body in records if kind == "metadata"]
    assert len(metadata) == 1
    provenance = metadata[0]
    assert provenance["source"]["cited_as"] == [ARTICLE + "?utm_source=fb"]
    assert provenance["redirect_chain"][0]["tls"]["verified"] is True
    assert provenance["redirect_chain"][0]["tls"]["peer_chain_pem"][0].startswith("-----BEGIN")
    assert provenance["software"]["archiver"]
    assert provenance["browser"]["version"]
    dom = next(
        body for kind, uri, body in records if kind == "resource" and uri.startswith("urn:dom:")
    )
    assert "3 октября в Кызылорде" in dom.decode("utf-8")


def test_script_and_xhr_content_is_in_the_dom_and_the_warc(captured: Archive) -> None:
    snapshot = _snapshots(captured)[JS_PAGE]
    records = _records(captured.settings.storage.root / snapshot.warc_path)
    dom = next(body for kind, uri, body in records if uri.startswith("urn:dom:")).decode()
    assert "Rendered by script: detention in Almaty." in dom
    assert "XHR says: the court postponed the hearing" in dom
    xhr = [
        body
        for kind, uri, body in records
        if kind == "response" and uri.endswith("/api/updates.json")
    ]
    assert len(xhr) == 1
    assert xhr[0].endswith(XHR_JSON)


def test_document_gets_plain_capture_only(captured: Archive) -> None:
    snapshot = _snapshots(captured)[DOCUMENT]
    assert snapshot.methods == ["http"]
    assert snapshot.artefacts == []
    assert snapshot.payload_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()


def test_failures_are_recorded_as_evidence_without_accusing_yet(captured: Archive) -> None:
    snapshots = _snapshots(captured)
    gone, vanished = snapshots[GONE], snapshots[NO_HOST]
    assert gone.http_status == 404
    assert vanished.http_status is None and vanished.failure_kind == "dns"
    records = _records(captured.settings.storage.root / vanished.warc_path)
    assert [kind for kind, _, _ in records] == ["warcinfo", "request", "metadata"]
    with captured.db.session() as session:
        states = {url: state for url, state in session.execute(select(Source.url, Source.state))}
        observations = {
            o.source_id: o
            for o in session.scalars(select(Observation).where(Observation.via == "capture"))
        }
        ids = {url: i for url, i in session.execute(select(Source.url, Source.id))}
    # One 404 or NXDOMAIN is not yet "dead": the accusation waits for a confirming check.
    assert states[GONE] == "pending" and states[NO_HOST] == "pending"
    assert observations[ids[GONE]].implied_state == "dead"
    assert observations[ids[NO_HOST]].implied_state == "dead"
    assert states[ARTICLE] == "live"


def test_status_lists_snapshots_and_preserved_sources(captured: Archive, clock: FixedClock) -> None:
    status = captured.status()
    assert status["summary"]["preserved"] == 3
    article = next(s for s in status["sources"] if s["url"] == ARTICLE)
    assert article["preserved"] is True
    snap = article["snapshots"][0]
    assert set(snap) >= {
        "id",
        "captured_at",
        "warc",
        "warc_sha256",
        "payload_sha256",
        "http_status",
        "final_url",
    }
    assert snap["final_url"] == f"{ARTICLE}?utm_source=fb"  # fetched as cited
    # A second run finds nothing due: preserved sources are not captured again, failed
    # ones wait for their retry time.
    assert captured.capture() == []
    clock.advance(minutes=11)
    retried = captured.capture()
    assert {o.url for o in retried} == {GONE, NO_HOST}


def test_proxy_down_changes_no_state(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    settings = make_settings(network__proxy=web.proxy_url, capture__per_host_interval="0")
    report = tmp_path / "r.md"
    report.write_text(f"A claim [^1].\n\n[^1]: {ARTICLE}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        web.offline()
        (outcome,) = archive.capture()
        assert outcome.failure == "proxy"
        assert outcome.implied_state is None
        assert outcome.state_after == "pending"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_browser_snapshot_replays_in_pywb(captured: Archive, tmp_path: Path) -> None:
    """The main page of a browser snapshot, served back by pywb from the WARC file alone."""
    import time

    import httpx

    tools = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin"
    if not (tools / "wayback").exists():
        pytest.fail("pywb is not installed in .venv-tools (./dev test installs it)")
    snapshot = _snapshots(captured)[JS_PAGE]
    warc = captured.settings.storage.root / snapshot.warc_path
    collections = tmp_path / "pywb"
    collections.mkdir()
    subprocess.run(
        [str(tools / "wb-manager"), "init", "evidence"],
        cwd=collections,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(tools / "wb-manager"), "add", "evidence", str(warc)],
        cwd=collections,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [str(tools / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=collections,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stamp = snapshot.started_at.strftime("%Y%m%d%H%M%S")
        replay = f"http://127.0.0.1:{port}/evidence/{stamp}id_/{JS_PAGE}"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(replay, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.content == JS_HTML
        api = httpx.get(
            f"http://127.0.0.1:{port}/evidence/{stamp}id_/https://orda.kz/api/updates.json"
        )
        assert api.content == XHR_JSON
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_snapshot_size_limit_cuts_bodies_and_says_so(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    big = "https://www.adilsoz.kz/files/big.pdf"
    web.page(big, b"%PDF-1.4\n" + bytes(300_000), content_type="application/pdf")
    settings = make_settings(
        network__proxy=web.proxy_url,
        capture__per_host_interval="0",
        capture__max_snapshot_bytes="100000",
    )
    report = tmp_path / "r.md"
    report.write_text(f"A document [^1].\n\n[^1]: {big}\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        assert len(archive.capture()) == 1
        snapshot = _snapshots(archive)[big]
        path = archive.settings.storage.root / snapshot.warc_path
        assert verify_warc(path).ok
        assert snapshot.truncated is True
        with path.open("rb") as fh:
            response = next(r for r in ArchiveIterator(fh) if r.rec_type == "response")
            assert response.rec_headers.get_header("WARC-Truncated") == "length"
            assert len(response.content_stream().read()) == 100_000
        provenance = next(json.loads(b) for k, _, b in _records(path) if k == "metadata")
        assert any("max_snapshot_bytes" in hit for hit in provenance["limits_hit"])


def test_browser_only_capture_follows_the_main_frame_not_iframes(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock, tmp_path: Path
) -> None:
    post = "https://www.facebook.com/groups/ActivistsNotExtremists/posts/3388608751458384"
    # Cited with a trailing slash and fetched as cited (the normalized URL drops it),
    # which redirects.
    web.page(post + "/", status(301, headers={"Location": post + "?ref=x"}))
    web.page(
        post + "?ref=x",
        "<title>Group post</title><iframe src='https://www.facebook.com/plugins/x'></iframe><p>Post text</p>",
    )
    web.page("https://www.facebook.com/plugins/x", "<title>plugin</title>")
    settings = make_settings(network__proxy=web.proxy_url, capture__per_host_interval="0")
    report = tmp_path / "r.md"
    report.write_text(f"A post [^1].\n\n[^1]: {post}/\n", encoding="utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        (outcome,) = archive.capture()
        assert outcome.preserved
        snapshot = _snapshots(archive)[post]
    assert snapshot.methods == ["browser"]
    assert [hop["status"] for hop in snapshot.redirect_chain] == [301, 200]
    assert snapshot.final_url == post + "?ref=x"
    assert snapshot.title == "Group post"
