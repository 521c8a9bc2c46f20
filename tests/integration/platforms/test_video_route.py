"""yt-dlp's requests through the archiver's fetcher (archiver.capture._ytdlp_route): the
address guard judges redirects too, the session's cookies are sent and never stored, an
HTTP error reaches yt-dlp as its own. Real yt-dlp against the simulated web."""

from __future__ import annotations

import threading
from pathlib import Path

from archiver.capture._ytdlp_route import standalone_route
from archiver.capture.media import MediaResult, download_media
from archiver.config import CaptureSettings, Settings
from archiver.platforms.markers import load_markers
from tests.integration.platforms.test_media import CLIP, PAGE, serve_video
from tests.simweb import SimulatedWeb, status
from tests.simweb.behaviours import SlowBody
from tests.simweb.messages import Request

PRIVATE_CLIP = "http://10.0.0.7/media/clip.mp4"


def _download(web: SimulatedWeb, tmp_path: Path, cookie_file: Path | None = None) -> MediaResult:
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": web.proxy_url})
    return download_media(
        PAGE, tmp_path / "work", settings.platforms, network, load_markers(),
        cookie_file=cookie_file,
    )  # fmt: skip


def test_a_format_url_redirecting_to_a_private_address_is_refused(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    """The page is public; its video redirects into the local network. yt-dlp's own
    handler followed that redirect through the proxy; the fetcher's guard refuses it."""
    serve_video(simweb, media_files)
    simweb.page(CLIP, status(302, headers={"Location": PRIVATE_CLIP}))
    simweb.page(PRIVATE_CLIP, media_files["clip"], content_type="video/mp4")
    result = _download(simweb, tmp_path)
    assert result.status == "failed"
    assert not [f for f in result.files if f.kind == "video"]
    assert simweb.hits(PRIVATE_CLIP) == 0
    assert all("10.0.0.7" not in url for _, url, _ in simweb.requests)
    refused = [e for e in result.exchanges if e.url == PRIVATE_CLIP]
    assert refused and all(e.failure is not None for e in refused)
    assert refused[0].failure is not None
    assert str(refused[0].failure.kind) == "forbidden-address"
    # The redirect itself is on record.
    assert next(e.status for e in result.exchanges if e.url == CLIP) == 302


def test_session_cookies_are_sent_to_the_video_host_and_never_stored(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    serve_video(simweb, media_files)
    seen: list[str | None] = []

    def clip(request: Request) -> bytes:
        seen.append(request.headers.get("cookie"))
        return media_files["clip"]

    simweb.page(CLIP, clip, content_type="video/mp4")
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n"
        ".video.example.org\tTRUE\t/\tTRUE\t0\tsession\ts3cr3t-value\n",
        encoding="utf-8",
    )
    result = _download(simweb, tmp_path, cookie_file=cookies)
    assert result.status == "saved", result.error
    assert seen and all(c == "session=s3cr3t-value" for c in seen)
    sent = [e for e in result.exchanges if e.url == CLIP]
    assert sent and all("Cookie" in e.redacted_headers for e in sent)
    assert all(b"Cookie: [redacted]" in e.request_head for e in sent)
    assert not [e for e in result.exchanges if b"s3cr3t-value" in e.request_head]


def test_an_http_error_of_the_format_url_is_yt_dlps_error_and_on_record(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    serve_video(simweb, media_files)
    simweb.page(CLIP, status(403), content_type="text/plain")
    result = _download(simweb, tmp_path)
    assert result.status == "failed"
    assert result.error is not None and "HTTP Error 403" in result.error
    assert not result.deadline_hit
    forbidden = [e for e in result.exchanges if e.url == CLIP]
    assert forbidden and forbidden[0].status == 403 and forbidden[0].response_head


def test_a_stopped_capture_stops_yt_dlp_at_its_request_under_way(
    simweb: SimulatedWeb, media_files: dict[str, bytes], tmp_path: Path
) -> None:
    """The run stops while the video trickles in (the deadline is far): the request
    under way is cancelled and yt-dlp's thread ends instead of downloading on."""
    serve_video(simweb, media_files)
    arrived = threading.Event()

    def clip(request: Request) -> SlowBody:
        arrived.set()
        return SlowBody(media_files["clip"], 100, content_type="video/mp4")

    simweb.page(CLIP, clip)
    settings = Settings()
    network = settings.network.model_copy(update={"proxy": simweb.proxy_url})
    found: list[MediaResult] = []
    with standalone_route(network, CaptureSettings(), seconds=3600, max_bytes=10**8) as route:

        def download() -> None:
            work = tmp_path / "work"
            markers = load_markers()
            found.append(
                download_media(PAGE, work, settings.platforms, network, markers, route=route)
            )

        thread = threading.Thread(target=download)
        thread.start()
        assert arrived.wait(120)
        route.close()
        thread.join(120)  # a guard against a hang, not a measure
    assert not thread.is_alive()
    (result,) = found
    assert result.status == "failed" and not result.deadline_hit
    assert result.error is not None and "the capture stopped" in result.error
