"""Where the video came from (issue 21, point 8): yt-dlp's requests are sent by the
archiver's fetcher and kept as request/response records beside the video's resource
record; certificates are verified and a failure recorded, not refused; the whole
download has a deadline, and running out of it is listed in ``incomplete``.

Real yt-dlp (its generic extractor) against the simulated web, real media by ffmpeg."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.config import Settings
from archiver.models import PlatformRecord, Snapshot
from tests.conftest import FixedClock
from tests.integration.platforms.test_media import CLIP, PAGE, _add, serve_video
from tests.simweb import SimulatedWeb
from tests.simweb.behaviours import SlowBody
from tests.support.range_files import REPLAY_FRAME, serve_files
from tests.support.verify_tools import warcio_check

pytestmark = pytest.mark.slow


def _settings(
    make_settings: Callable[..., Settings], web: SimulatedWeb, *, trust_ca: bool = True, **more: str
) -> Settings:
    extra = {"capture__extra_ca_file": str(web.ca_pem_path)} if trust_ca else {}
    return make_settings(
        network__proxy=web.proxy_url,
        capture__per_host_interval="0",
        capture__modes='{default = ["http"]}',
        **extra,
        **more,
    )


def _capture(settings: Settings, clock: FixedClock, tmp_path: Path) -> tuple[Path, Any, Any]:
    with Archive.open(settings, clock=clock) as archive:
        _add(archive, tmp_path, PAGE, "youtube", "video")
        assert [o.error for o in archive.capture()] == [None]
        with archive.db.session() as session:
            snapshot = session.scalars(select(Snapshot)).one()
            record = session.scalars(select(PlatformRecord)).one()
            session.expunge_all()
        status = archive.status()
    return settings.storage.root / snapshot.warc_path, snapshot, (record, status)


def _records(warc: Path) -> list[dict[str, Any]]:
    found = []
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            headers = dict(record.rec_headers.headers)
            http = record.http_headers
            found.append(
                {
                    "type": record.rec_type,
                    "uri": headers.get("WARC-Target-URI"),
                    "headers": headers,
                    "status": http.get_statuscode() if http is not None else None,
                    "http": dict(http.headers) if http is not None else {},
                    "body": record.content_stream().read(),
                }
            )
    return found


def _provenance(records: list[dict[str, Any]]) -> dict[str, Any]:
    found = next(r for r in records if r["uri"] == f"urn:provenance:{PAGE}")
    return json.loads(found["body"])  # type: ignore[no-any-return]


def test_ytdlp_requests_are_request_and_response_records_beside_the_video(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    serve_video(simweb, media_files)
    warc, snapshot, (record, _) = _capture(_settings(make_settings, simweb), clock, tmp_path)
    records = _records(warc)
    clip = media_files["clip"]
    digest = "sha256:" + hashlib.sha256(clip).hexdigest()
    # The video as yt-dlp assembled it (what a reader plays) ...
    video = next(r for r in records if r["uri"] == f"urn:video:{PAGE}")
    assert (video["type"], video["body"]) == ("resource", clip)
    # ... and the format URL it fetched: who answered, with which head and bytes.
    responses = [r for r in records if r["uri"] == CLIP and r["type"] == "response"]
    requests = [r for r in records if r["uri"] == CLIP and r["type"] == "request"]
    assert len(responses) == 1 and len(requests) == 1
    response, request = responses[0], requests[0]
    assert response["status"] == "200"
    assert response["http"].get("Content-Type") == "video/mp4"
    assert response["body"] == clip
    assert response["headers"]["WARC-Payload-Digest"] == digest
    # Through a proxy the server's address is the proxy's to know (no WARC-IP-Address;
    # the manifest names the proxy); direct, the fetcher writes it.
    assert request["headers"]["WARC-Concurrent-To"] == response["headers"]["WARC-Record-ID"]
    assert request["body"] == b"" and request["http"].get("User-Agent")
    # The page yt-dlp read again, through the same fetcher, is there too.
    assert [r for r in records if r["type"] == "request" and r["uri"] == PAGE]
    media = _provenance(records)["platform"]["media"]
    assert media["status"] == "saved" and media["deadline_hit"] is False
    assert media["tls_verified"] is True and media["tls_errors"] == []
    fetched = {e["url"]: e for e in media["exchanges"]}
    assert fetched[CLIP]["status"] == 200 and fetched[CLIP]["bytes"] == len(clip)
    assert record.media_status == "saved"
    assert snapshot.incomplete == []
    check = warcio_check(warc)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_certificate_that_does_not_verify_is_recorded_and_the_video_kept(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The simulated servers' certificates come from a self-signed CA the archiver is
    not told of here: yt-dlp's requests do not verify, the download goes on, and the
    media record says so with the reason, per host."""
    serve_video(simweb, media_files)
    settings = _settings(make_settings, simweb, trust_ca=False)
    warc, snapshot, (record, _) = _capture(settings, clock, tmp_path)
    records = _records(warc)
    media = _provenance(records)["platform"]["media"]
    assert media["status"] == "saved" and record.media_status == "saved"
    assert media["tls_verified"] is False
    errors = {e["host"]: e["verify_error"] for e in media["tls_errors"]}
    assert set(errors) == {"video.example.org"}
    assert errors["video.example.org"].startswith("certificate did not verify: ")
    assert "self-signed" in errors["video.example.org"]
    assert all(e["tls_verified"] is False for e in media["exchanges"] if e["status"])
    response = next(r for r in records if r["uri"] == CLIP and r["type"] == "response")
    assert response["body"] == media_files["clip"]
    assert snapshot.incomplete == []
    check = warcio_check(warc)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_slow_video_server_hits_the_deadline_and_the_snapshot_says_so(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """The video trickles at 500 bytes a second (a minute and more for the clip); the
    deadline is 3 s. No sleeping here: the server's pace decides."""
    serve_video(simweb, media_files)
    clip = media_files["clip"]
    assert len(clip) > 30 * 500
    simweb.page(CLIP, SlowBody(clip, 500, content_type="video/mp4"))
    settings = _settings(make_settings, simweb, platforms__video_deadline="3")
    warc, snapshot, (record, status) = _capture(settings, clock, tmp_path)
    reason = "the video download ran out of time after 3 s (platforms.video_deadline)"
    assert snapshot.incomplete == [{"artefact": "video", "reason": reason}]
    assert (record.media_status, record.media_error) == ("failed", reason)
    (source,) = status["sources"]
    assert source["snapshots"][0]["incomplete"] == [{"artefact": "video", "reason": reason}]
    records = _records(warc)
    media = _provenance(records)["platform"]["media"]
    assert media["deadline_hit"] is True
    # What arrived before the deadline is kept, marked as cut by time.
    cut = [r for r in records if r["uri"] == CLIP and r["type"] == "response"]
    assert cut and cut[0]["headers"].get("WARC-Truncated") == "time"
    assert 0 < len(cut[0]["body"]) < len(clip)
    assert not [r for r in records if r["uri"] == f"urn:video:{PAGE}"]
    check = warcio_check(warc)
    assert check.returncode == 0, check.stdout + check.stderr
    # The signed manifest and the certificate of the evidence package say it too.
    with Archive.open(settings, clock=clock) as archive:
        package = archive.export(PAGE, tmp_path / "package.zip", actor="cli:test")
    with zipfile.ZipFile(package) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        certificate = zf.read("certificate.html").decode()
    assert manifest["incomplete"] == [{"artefact": "video", "reason": reason}]
    assert f"the video could not be downloaded: {reason}" in certificate


def test_the_format_url_replays_from_the_warc_in_pywb(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """pywb indexes the snapshot's WARC, and serves the format URL yt-dlp fetched back
    with the bytes the server sent (the records are ordinary request/response pairs)."""
    serve_video(simweb, media_files)
    warc, snapshot, _ = _capture(_settings(make_settings, simweb), clock, tmp_path)
    tools = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin"
    if not (tools / "wayback").exists():
        pytest.fail("pywb is not installed in .venv-tools (./dev test installs it)")
    collections = tmp_path / "pywb"
    collections.mkdir()
    for step in (["init", "evidence"], ["add", "evidence", str(warc)]):
        subprocess.run(
            [str(tools / "wb-manager"), *step], cwd=collections, check=True, capture_output=True
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [str(tools / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=collections,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stamp = snapshot.started_at.strftime("%Y%m%d%H%M%S")
        replay = f"http://127.0.0.1:{port}/evidence/{stamp}id_/{CLIP}"
        started = time.monotonic()
        while True:  # until pywb listens
            try:
                response = httpx.get(replay, timeout=10)
                break
            except httpx.TransportError:
                if time.monotonic() - started > 60:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.content == media_files["clip"]
        assert response.headers["content-type"] == "video/mp4"
    finally:
        server.terminate()
        server.wait(timeout=10)


REPLAYWEBPAGE = Path(__file__).resolve().parents[3] / ".tools-npm" / "replaywebpage"


def test_the_format_url_replays_from_the_package_in_replaywebpage(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    """ReplayWeb.page (its own files, served locally) opens the package's WACZ at the
    format URL yt-dlp fetched; inside the replay frame the URL gives back the bytes the
    server sent (their SHA-256 computed by the page)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not (REPLAYWEBPAGE / "ui.js").exists():
        pytest.fail("replaywebpage is not installed in .tools-npm (./dev test installs it)")
    serve_video(simweb, media_files)
    settings = _settings(make_settings, simweb)
    _capture(settings, clock, tmp_path)
    with Archive.open(settings, clock=clock) as archive:
        package = archive.export(PAGE, tmp_path / "package.zip", actor="cli:test")
    site = tmp_path / "site"
    (site / "replay").mkdir(parents=True)
    with zipfile.ZipFile(package) as zf:
        (site / "snapshot.wacz").write_bytes(zf.read("snapshot.wacz"))
    (site / "ui.js").symlink_to(REPLAYWEBPAGE / "ui.js")
    (site / "replay" / "sw.js").symlink_to(REPLAYWEBPAGE / "sw.js")
    (site / "replay" / "index.html").write_text(REPLAY_FRAME, encoding="utf-8")
    (site / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><script src='ui.js'></script>"
        "</head><body><replay-web-page style='height:600px;display:block' "
        f"source='snapshot.wacz' url='{PAGE}' replayBase='replay/' embed='replayonly'>"
        "</replay-web-page></body></html>",
        encoding="utf-8",
    )
    expected = hashlib.sha256(media_files["clip"]).hexdigest()
    # From the replayed watch page, the format URL as the page's own <video> asks.
    digest_js = (
        f"async () => {{ const r = await fetch({json.dumps(CLIP)});"
        " const b = await r.arrayBuffer();"
        " const d = await crypto.subtle.digest('SHA-256', b);"
        " return [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join(''); }"
    )
    with serve_files(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(f"{origin}/index.html", wait_until="load", timeout=30_000)
            found: set[str] = set()
            started = time.monotonic()
            while expected not in found and time.monotonic() - started < 60:
                page.wait_for_timeout(500)  # until the replay frame has loaded
                for frame in page.frames:
                    if "mp_/" not in frame.url and "id_/" not in frame.url:
                        continue
                    try:
                        found.add(frame.evaluate(digest_js))
                    except PlaywrightError:  # a frame navigating away
                        continue
            assert expected in found, (found, [f.url for f in page.frames], console[-20:])
        finally:
            browser.close()
