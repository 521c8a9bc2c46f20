"""yt-dlp end to end through the simulated web (its generic extractor), with real media
made by ffmpeg, and the platform step inside a real capture run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from archiver.app import Archive
from archiver.capture.media import download_media
from archiver.config import Settings
from archiver.models import Observation, PlatformRecord, Snapshot, Source
from archiver.platforms.markers import load_markers
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb, status
from tests.support.verify_tools import warcio_check

PAGE = "https://video.example.org/reports/detention-almaty"
CLIP = "https://video.example.org/media/clip.mp4"
VIDEO_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Задержание</title>
<meta property="og:image" content="https://video.example.org/media/thumb.jpg"></head>
<body><video controls poster="/media/thumb.jpg" src="/media/clip.mp4">
<track kind="subtitles" src="/media/clip.ru.vtt" srclang="ru" label="Русский"></video>
</body></html>"""


def serve_video(web: SimulatedWeb, media: dict[str, bytes]) -> None:
    web.page(PAGE, VIDEO_PAGE)
    web.page(CLIP, media["clip"], content_type="video/mp4")
    web.page("https://video.example.org/media/thumb.jpg", media["thumb"], content_type="image/jpeg")
    web.page("https://video.example.org/media/clip.ru.vtt", media["subs"], content_type="text/vtt")


def test_ytdlp_downloads_video_thumbnail_and_subtitles_through_the_proxy(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    serve_video(simweb, media_files)
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": simweb.proxy_url})
    result = download_media(PAGE, tmp_path / "work", settings.platforms, network, load_markers())
    assert (result.status, result.error) == ("saved", None)
    kinds = {f.kind: f for f in result.files}
    assert set(kinds) == {"video", "thumbnail", "subtitles", "video-info"}
    assert kinds["video"].path.read_bytes() == media_files["clip"]
    assert kinds["thumbnail"].path.read_bytes() == media_files["thumb"]
    assert kinds["subtitles"].note == "ru"
    info = json.loads(kinds["video-info"].path.read_text("utf-8"))
    assert info["webpage_url"] == PAGE
    assert result.ytdlp_version == metadata.version("yt-dlp")
    # It really went through the simulated web.
    assert simweb.hits(CLIP) >= 1


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/reports/v",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0x7f.1/reports/v",
        "http://10.0.0.7/reports/v",
    ],
)
def test_ytdlp_never_handed_a_local_destination_through_the_proxy(
    simweb: SimulatedWeb, tmp_path: Path, url: str
) -> None:
    simweb.page(url, VIDEO_PAGE)  # reachable through the proxy, if it were asked
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": simweb.proxy_url})
    result = download_media(url, tmp_path / "work", settings.platforms, network, load_markers())
    assert result.status == "failed"
    assert result.error and result.error.startswith("refusing ")
    assert "network.allow_private_networks" in result.error
    assert simweb.requests == [] and simweb.connects == []


def test_ytdlp_error_is_classified_not_raised(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page(PAGE, "<html><body><p>No video here.</p></body></html>")
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": simweb.proxy_url})
    result = download_media(PAGE, tmp_path / "work", settings.platforms, network, load_markers())
    assert result.status == "failed"
    assert result.error and "Unsupported URL" in result.error
    assert result.signal is not None
    assert (result.signal.implied_state, result.signal.detail) == (None, "no_media")


def test_video_bigger_than_the_cap_is_skipped_and_said(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    serve_video(simweb, media_files)
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": simweb.proxy_url})
    small = settings.platforms.model_copy(update={"video_max_bytes": 1000})
    result = download_media(PAGE, tmp_path / "work", small, network, load_markers())
    assert result.status == "skipped"
    assert result.error and "video_max_bytes" in result.error
    assert not [f for f in result.files if f.kind == "video"]


def _settings(make_settings: Callable[..., Settings], web: SimulatedWeb) -> Settings:
    return make_settings(
        network__proxy=web.proxy_url,
        capture__extra_ca_file=str(web.ca_pem_path),
        capture__per_host_interval="0",
        # Plain capture of the page is enough here (the browser has its own tests).
        capture__modes='{default = ["http"]}',
    )


def _add(archive: Archive, tmp_path: Path, url: str, platform: str, kind: str) -> int:
    report = tmp_path / "report.txt"
    report.write_text(f"Footage of the detention[1].\n\n[1]{url}\n", encoding="utf-8")
    archive.add(str(report))
    with archive.db.session() as session:
        source = session.scalars(select(Source)).one()
        # As the harvest classes a YouTube watch URL (served here by the generic extractor).
        source.platform, source.kind = platform, kind
        return source.id


def _records(path: Path) -> dict[str, tuple[str, bytes, str | None]]:
    found = {}
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            found[uri] = (
                record.rec_type,
                record.content_stream().read(),
                record.rec_headers.get_header("WARC-Payload-Digest"),
            )
    return found


@pytest.mark.slow
def test_capture_writes_the_video_into_the_warc_and_its_sha256_into_the_db(
    simweb: SimulatedWeb,
    media_files: dict[str, bytes],
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    serve_video(simweb, media_files)
    settings = _settings(make_settings, simweb)
    with Archive.open(settings, clock=clock) as archive:
        source_id = _add(archive, tmp_path, PAGE, "youtube", "video")
        outcomes = archive.capture()
        assert [o.error for o in outcomes] == [None]
        with archive.db.session() as session:
            snapshot = session.scalars(select(Snapshot)).one()
            record = session.scalars(select(PlatformRecord)).one()
            warc = settings.storage.root / snapshot.warc_path
            artefacts = {a["kind"]: a for a in snapshot.artefacts}
    expected = hashlib.sha256(media_files["clip"]).hexdigest()
    assert record.source_id == source_id and record.snapshot_id == snapshot.id
    assert (record.media_status, record.media_sha256, record.media_size) == (
        "saved", expected, len(media_files["clip"]),
    )  # fmt: skip
    assert record.ytdlp_version == metadata.version("yt-dlp")
    assert artefacts["video"]["sha256"] == expected
    assert {"video", "video-info", "thumbnail", "subtitles"} <= set(artefacts)
    records = _records(warc)
    rec_type, body, digest = records[f"urn:video:{PAGE}"]
    assert (rec_type, body, digest) == ("resource", media_files["clip"], f"sha256:{expected}")
    assert records[f"urn:thumbnail:{PAGE}"][1] == media_files["thumb"]
    assert records[f"urn:subtitles:{PAGE}"][1] == media_files["subs"]
    provenance = json.loads(records[f"urn:provenance:{PAGE}"][1])
    assert provenance["platform"]["ytdlp_version"] == metadata.version("yt-dlp")
    assert provenance["platform"]["media"]["status"] == "saved"
    assert provenance["software"]["yt-dlp"] == metadata.version("yt-dlp")
    check = warcio_check(warc)  # the warcio VERIFY.md names
    assert check.returncode == 0, check.stdout + check.stderr
    # The work folder is gone once its files are sealed in the WARC.
    assert not list((settings.storage.root / "tmp").glob("media-*"))


@pytest.mark.slow
def test_removed_youtube_page_implies_removed_and_the_failed_video_costs_nothing(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    from tests.simweb.corpus import read_manifest

    removed = next(e for e in read_manifest() if e.path.name == "irauhITDrsE--2023-05.html")
    available = next(e for e in read_manifest() if e.path.name == "2lAe1cqCOXo.html")
    simweb.serve_entry(removed)
    simweb.serve_entry(available)
    settings = _settings(make_settings, simweb)
    report = tmp_path / "report.txt"
    report.write_text(f"Two videos[1][2].\n\n[1]{removed.url}\n[2]{available.url}\n", "utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        outcomes = archive.capture()
        assert [o.error for o in outcomes] == [None, None]
        with archive.db.session() as session:
            rows = session.execute(
                select(Source.url, PlatformRecord, Observation)
                .join(PlatformRecord, PlatformRecord.source_id == Source.id)
                .join(Observation, Observation.snapshot_id == PlatformRecord.snapshot_id)
            ).all()
    by_url = {url: (record, observation) for url, record, observation in rows}
    record, observation = by_url[removed.url]
    assert (record.detail, record.implied_state) == ("removed", "removed")
    assert observation.implied_state == "removed"
    assert "Video unavailable" in observation.reason
    assert record.media_status == "skipped"  # the page says it is gone: no download tried
    record, observation = by_url[available.url]
    assert (record.detail, observation.implied_state) == ("available", "live")
    assert record.extracted["title"] == available.title
    assert record.extracted["duration_seconds"] == 337
    # YouTube's player API is not in the simulated web: the download fails, the
    # snapshot of the page stays, and the failure is on record.
    assert record.media_status == "failed" and record.media_error


@pytest.mark.slow
def test_youtube_watch_page_in_the_browser_is_understood(
    simweb: SimulatedWeb,
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    from tests.simweb.corpus import read_manifest

    gated = next(e for e in read_manifest() if e.path.name == "irauhITDrsE.html")
    simweb.serve_entry(gated)
    # Cited as youtu.be and fetched as cited: the short link redirects, as the real one.
    assert gated.url is not None
    simweb.page("https://youtu.be/irauhITDrsE", status(301, headers={"Location": gated.url}))
    settings = make_settings(
        network__proxy=simweb.proxy_url,
        capture__extra_ca_file=str(simweb.ca_pem_path),
        capture__per_host_interval="0",
        capture__page_budget="20",
        capture__max_resources="40",
    )
    report = tmp_path / "report.txt"
    report.write_text("The video[1].\n\n[1]https://youtu.be/irauhITDrsE\n", "utf-8")
    with Archive.open(settings, clock=clock) as archive:
        archive.add(str(report))
        assert [o.error for o in archive.capture()] == [None]
        with archive.db.session() as session:
            snapshot = session.scalars(select(Snapshot)).one()
            record = session.scalars(select(PlatformRecord)).one()
            source = session.scalars(select(Source)).one()
    assert snapshot.methods == ["browser"]
    assert (source.platform, source.kind) == ("youtube", "video")
    assert (record.detail, record.implied_state) == ("age_restricted", "restricted")
    assert "Sign in to confirm your age" in (record.reason or "")
    assert source.state == "restricted"  # not an accusation: applies at once
    assert record.extracted["title"] == "THE MOST AGE RESTRICTED VIDEO EVER"
    assert record.media_status == "skipped"
