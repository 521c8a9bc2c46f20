"""The video of a source, through yt-dlp used as a library.

yt-dlp breaks whenever platforms change their players; it is pinned only from below in
pyproject.toml and operators upgrade it with one line (docs/platforms.md). The version
used is recorded in every snapshot's provenance.

What it writes goes into a work folder under ``storage/tmp`` (never elsewhere) and is
then streamed from disk into the snapshot's WARC as resource records by
:func:`archiver.capture.snapshot.write_snapshot`; the folder is removed afterwards. yt-dlp
itself downloads in chunks to disk, so memory stays bounded whatever the video's size.

yt-dlp is blocking: :func:`download_media` runs in a worker thread. Its requests go
through the capture's own fetcher (:mod:`archiver.capture._ytdlp_route`): guarded,
proxied, polite, TLS verified (and recorded when it does not verify), every exchange
kept for the snapshot, the whole download within ``platforms.video_deadline``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archiver.capture.exchange import Exchange
from archiver.capture.session import NO_SECRETS, SessionSecrets
from archiver.config import CaptureSettings, NetworkSettings, PlatformsSettings
from archiver.errors import FetchError
from archiver.net.guard import check_destination
from archiver.platforms import PlatformSignal, classify_ytdlp_error
from archiver.platforms.markers import Markers

if TYPE_CHECKING:
    from archiver.capture._ytdlp_route import VideoRoute

log = logging.getLogger(__name__)

_TYPES = {
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "flv": "video/x-flv",
    "3gp": "video/3gpp",
    "ogv": "video/ogg",
    "mp3": "audio/mpeg",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip",
    "ttml": "application/ttml+xml",
    "srv3": "application/xml",
    "json3": "application/json",
}


def ytdlp_version(package: str = "yt-dlp") -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class MediaFile:
    """A file to write as a resource record: ``urn:<kind>:<target>``."""

    kind: str  # video, video-info, thumbnail, subtitles
    path: Path
    content_type: str
    target: str
    note: str | None = None  # e.g. the subtitle language


@dataclass
class MediaResult:
    files: list[MediaFile] = field(default_factory=list)
    # None: done; else what went wrong, in words (the capture carries on without it).
    error: str | None = None
    # What the error says about the source (classify_ytdlp_error).
    signal: PlatformSignal | None = None
    status: str = "none"  # saved, failed, skipped, none
    summary: dict[str, Any] = field(default_factory=dict)
    ytdlp_version: str | None = None
    # yt-dlp's own requests as the fetcher made them (become request/response records).
    exchanges: list[Exchange] = field(default_factory=list)
    deadline_hit: bool = False


class _Logger:
    """yt-dlp's messages to our log, with session values replaced."""

    def __init__(self, secrets: SessionSecrets) -> None:
        self._secrets = secrets
        self.messages: list[str] = []

    def _emit(self, level: int, message: str) -> None:
        text = self._secrets.redact_text(message)
        self.messages.append(text)
        log.log(level, "yt-dlp: %s", text)

    def debug(self, message: str) -> None:
        if not message.startswith("[debug] "):
            self._emit(logging.DEBUG, message)

    def info(self, message: str) -> None:
        self._emit(logging.DEBUG, message)

    def warning(self, message: str) -> None:
        # Retries and the like: chatter for the operator (shown at DEBUG), never an
        # error; what failed is recorded with the snapshot.
        self._emit(logging.DEBUG, message)

    def error(self, message: str) -> None:
        self._emit(logging.WARNING, message)


def node_path() -> str | None:
    """A Node.js for yt-dlp's YouTube challenge solver (yt-dlp-ejs): the system's, else
    the one Playwright ships with its driver (the container has no other)."""
    found = shutil.which("node")
    if found:
        return found
    try:
        import playwright
    except ImportError:
        return None
    bundled = Path(playwright.__file__).parent / "driver" / "node"
    return str(bundled) if bundled.is_file() else None


def ytdlp_options(
    workdir: Path,
    settings: PlatformsSettings,
    network: NetworkSettings,
    *,
    cookie_file: Path | None = None,
) -> dict[str, Any]:
    """The options given to yt_dlp.YoutubeDL (pure: easy to read and to test)."""
    height = settings.video_max_height
    return {
        # Best video up to the height with the best audio (merged by ffmpeg), else the
        # best single file up to the height, else the smallest there is. "?" lets
        # formats of unknown height (plain files found by the generic extractor) pass.
        "format": f"bv*[height<=?{height}]+ba/b[height<=?{height}]/w",
        "max_filesize": settings.video_max_bytes,
        "outtmpl": {"default": "media.%(ext)s"},
        "paths": {"home": str(workdir), "temp": str(workdir)},
        "writethumbnail": True,
        "writesubtitles": True,
        "subtitleslangs": list(settings.subtitle_languages),
        "noplaylist": True,
        # YouTube's player needs JavaScript solved (yt-dlp-ejs); deno if installed, else
        # Node.js.
        "js_runtimes": {"deno": {}, "node": {"path": node} if (node := node_path()) else {}},
        "proxy": network.proxy or None,
        "socket_timeout": network.timeout,
        # Requests go through the archiver's fetcher, which verifies certificates and
        # records when they do not verify (archiver.capture._ytdlp_route). yt-dlp's own
        # handlers serve only a read_metadata called without a route: they would not
        # check, so that evidence is read behind an intercepting proxy as elsewhere.
        "nocheckcertificate": True,
        # HLS and DASH segments by yt-dlp itself (through the fetcher), never by an
        # ffmpeg that would connect on its own. yt-dlp hands a live stream in progress
        # to ffmpeg whatever is asked (and it would not end): not downloaded.
        "hls_prefer_native": True,
        "external_downloader": {"default": "native"},
        "match_filter": not_live,
        "http_headers": {"User-Agent": network.user_agent},
        "cookiefile": str(cookie_file) if cookie_file else None,
        "retries": 2,
        "fragment_retries": 2,
        "overwrites": False,
        "cachedir": False,
        "quiet": True,
        "noprogress": True,
        "no_color": True,
    }


LIVE_NOW = "a live stream in progress: not downloaded (yt-dlp would hand it to ffmpeg)"


def not_live(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
    """yt-dlp's match filter: a live stream in progress is not downloaded."""
    return LIVE_NOW if info.get("is_live") else None


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower().lstrip("."), "application/octet-stream")


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id", "title", "description", "duration", "uploader", "channel", "upload_date",
        "timestamp", "webpage_url", "extractor", "format_id", "format", "ext", "width",
        "height", "fps", "vcodec", "acodec", "filesize", "filesize_approx", "live_status",
        "availability",
    )  # fmt: skip
    return {k: info[k] for k in keys if info.get(k) is not None}


def _collect(info: dict[str, Any], target: str, workdir: Path) -> list[MediaFile]:
    files: list[MediaFile] = []
    for download in info.get("requested_downloads") or []:
        path = Path(str(download.get("filepath") or ""))
        if path.is_file() and path.resolve().is_relative_to(workdir.resolve()):
            files.append(MediaFile("video", path, _content_type(path), target))
    for thumb in info.get("thumbnails") or []:
        path = Path(str(thumb.get("filepath") or ""))
        if thumb.get("filepath") and path.is_file():
            files.append(MediaFile("thumbnail", path, _content_type(path), target))
    for lang, sub in (info.get("requested_subtitles") or {}).items():
        path = Path(str(sub.get("filepath") or ""))
        if sub.get("filepath") and path.is_file():
            files.append(MediaFile("subtitles", path, _content_type(path), target, note=lang))
    return files


def _guard(url: str, network: NetworkSettings) -> None:
    """yt-dlp connects by itself: judge the page's host by the address guard's rules
    (archiver.net.guard), direct or through the proxy, before it is handed over."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_destination(parts.hostname or "", port, network)


def download_media(
    url: str,
    workdir: Path,
    settings: PlatformsSettings,
    network: NetworkSettings,
    markers: Markers,
    *,
    cookie_file: Path | None = None,
    secrets: SessionSecrets = NO_SECRETS,
    route: VideoRoute | None = None,
    capture: CaptureSettings | None = None,
) -> MediaResult:
    """Download the video of ``url`` (with info JSON, thumbnail, subtitles) into
    ``workdir``, every request through ``route`` (a capture run's fetcher); without
    one, through a fetcher of its own made from ``network`` and ``capture``. Never
    raises for the source's problems: they are in the result."""
    if route is None:
        from archiver.capture._ytdlp_route import standalone_route

        with standalone_route(
            network,
            capture or CaptureSettings(),
            seconds=settings.video_deadline,
            max_bytes=media_response_limit(settings),
            spool_dir=workdir,
        ) as own:
            return download_media(
                url, workdir, settings, network, markers,
                cookie_file=cookie_file, secrets=secrets, route=own,
            )  # fmt: skip
    result = MediaResult(ytdlp_version=ytdlp_version())
    if result.ytdlp_version is None:
        result.error, result.status = "yt-dlp is not installed", "failed"
        return result
    import yt_dlp  # loaded only when a video is wanted

    from archiver.capture._ytdlp_handler import route_ytdlp
    from archiver.capture._ytdlp_route import deadline_message

    workdir.mkdir(parents=True, exist_ok=True)
    logger = _Logger(secrets)
    options = ytdlp_options(workdir, settings, network, cookie_file=cookie_file)
    options["logger"] = logger
    result.exchanges = route.exchanges
    try:
        _guard(url, network)
        with yt_dlp.YoutubeDL(options) as ydl:
            route_ytdlp(ydl, route, max_redirects=network.max_redirects)
            info = ydl.extract_info(url, download=True)
            clean = ydl.sanitize_info(info) if isinstance(info, dict) else None
    except FetchError as exc:
        result.error, result.status = str(exc), "failed"
        return result
    except yt_dlp.utils.DownloadError as exc:
        result.status = "failed"
        if route.deadline_hit:
            result.deadline_hit, result.error = True, deadline_message(route.seconds)
            return result
        message = secrets.redact_text(str(exc))
        result.error = message
        result.signal = _as_platform_signal(classify_ytdlp_error(message, markers=markers))
        return result
    if not isinstance(clean, dict):
        result.error, result.status = "yt-dlp returned no information", "failed"
        return result
    if clean.get("_type") == "playlist":
        result.error, result.status = "a playlist, not one video: not downloaded", "skipped"
        return result
    target = str(clean.get("webpage_url") or url)
    result.files = _collect(clean, target, workdir)
    info_path = workdir / "info.json"
    redacted = secrets.redact_json(clean)
    info_path.write_text(json.dumps(redacted, ensure_ascii=False, indent=1, default=str), "utf-8")
    result.files.append(MediaFile("video-info", info_path, "application/json", target))
    result.summary = _summary(redacted)
    if any(f.kind == "video" for f in result.files):
        result.status = "saved"
    elif route.deadline_hit:
        result.status, result.deadline_hit = "failed", True
        result.error = deadline_message(route.seconds)
    elif clean.get("is_live"):
        result.status, result.error = "skipped", LIVE_NOW
    else:
        skipped = [m for m in logger.messages if "max-filesize" in m or "larger than" in m]
        result.status = "skipped" if skipped else "failed"
        result.error = (
            f"video larger than platforms.video_max_bytes ({settings.video_max_bytes} bytes)"
            if skipped
            else "yt-dlp wrote no video file"
        )
    return result


def media_response_limit(settings: PlatformsSettings) -> int:
    """The most one response of a video download may bring: the video's cap, and some
    room for a response that is not the video (the watch page, the player's API)."""
    return settings.video_max_bytes + 16 * 1024 * 1024


def media_exchanges(exchanges: Sequence[Exchange]) -> dict[str, Any]:
    """For the media record: which servers answered yt-dlp (URL, status, IP address,
    bytes) and whether their certificates verified (``tls_verified``: None without
    HTTPS, False when any did not verify; ``tls_errors`` says why, per host)."""
    unverified: dict[str, str] = {}
    https = False
    listed: list[dict[str, Any]] = []
    for exchange in exchanges:
        tls = exchange.tls
        if tls is not None:
            https = True
            if not tls.verified:
                host = urlsplit(exchange.url).hostname or exchange.url
                unverified.setdefault(host, tls.verify_error or "did not verify")
        listed.append(
            {
                "url": exchange.url,
                "method": exchange.method,
                "status": exchange.status,
                "ip_address": exchange.ip_address,
                "bytes": exchange.body.size if exchange.body is not None else 0,
                "truncated": exchange.truncated,
                "failure": exchange.failure.message if exchange.failure else None,
                "tls_verified": None if tls is None else tls.verified,
            }
        )
    return {
        "tls_verified": (not unverified) if https else None,
        "tls_errors": [{"host": h, "verify_error": e} for h, e in unverified.items()],
        "exchanges": listed,
    }


def _as_platform_signal(signal: object) -> PlatformSignal | None:
    return signal if isinstance(signal, PlatformSignal) else None


def remove_workdir(workdir: Path) -> None:
    """Delete a work folder once its files are sealed in a WARC (or were not wanted)."""
    shutil.rmtree(workdir, ignore_errors=True)


# -- metadata only (the re-check's YouTube probe) ------------------------------------------

# Warnings about yt-dlp's auxiliary requests (player API, retries): they say nothing
# about the video itself.
_AUXILIARY = ("unable to download", "retrying", "giving up", "javascript runtime")


@dataclass
class MetadataResult:
    """What yt-dlp says of a video without downloading it."""

    # Title, description, duration (None when yt-dlp failed).
    fields: dict[str, Any] | None = None
    webpage_url: str | None = None
    error: str | None = None
    # What the failure (or, without formats, a warning quoting the platform) implies.
    signal: PlatformSignal | None = None
    ytdlp_version: str | None = None


def metadata_options(
    workdir: Path, settings: PlatformsSettings, network: NetworkSettings
) -> dict[str, Any]:
    """The capture's options (proxy, TLS, user agent, JS runtime), for metadata only:
    nothing downloaded or written, a video without usable formats is not an error."""
    options = ytdlp_options(workdir, settings, network)
    options.update(
        {
            "skip_download": True,
            "writethumbnail": False,
            "writesubtitles": False,
            "ignore_no_formats_error": True,
            "retries": 1,
            "match_filter": None,  # nothing is downloaded: a live stream is read too
        }
    )
    return options


def read_metadata(
    url: str,
    workdir: Path,
    settings: PlatformsSettings,
    network: NetworkSettings,
    markers: Markers,
    *,
    cookie_file: Path | None = None,
    secrets: SessionSecrets = NO_SECRETS,
    route: VideoRoute | None = None,
) -> MetadataResult:
    """yt-dlp's ``extract_info(download=False)`` of ``url``: title, description and
    duration, or what its error implies. With ``route``, its requests go through the
    archiver's fetcher (guarded, polite, within the route's deadline); without, through
    yt-dlp's own handlers. Blocking; never raises for the source's problems."""
    result = MetadataResult(ytdlp_version=ytdlp_version())
    if result.ytdlp_version is None:
        result.error = "yt-dlp is not installed"
        return result
    import yt_dlp

    logger = _Logger(secrets)
    options = metadata_options(workdir, settings, network)
    options["cookiefile"] = str(cookie_file) if cookie_file else None
    options["logger"] = logger
    try:
        _guard(url, network)
        with yt_dlp.YoutubeDL(options) as ydl:
            if route is not None:
                from archiver.capture._ytdlp_handler import route_ytdlp

                route_ytdlp(ydl, route, max_redirects=network.max_redirects)
            info = ydl.extract_info(url, download=False)
            clean = ydl.sanitize_info(info) if isinstance(info, dict) else None
    except FetchError as exc:
        result.error = str(exc)
        return result
    except yt_dlp.utils.DownloadError as exc:
        result.error = secrets.redact_text(str(exc))
        result.signal = _as_platform_signal(classify_ytdlp_error(result.error, markers=markers))
        return result
    if not isinstance(clean, dict):
        result.error = "yt-dlp returned no information"
        return result
    if not clean.get("formats"):
        # With ignore_no_formats_error the player's own verdict ("Video unavailable",
        # "Private video") arrives as a warning instead of an error.
        for message in logger.messages:
            if any(word in message.lower() for word in _AUXILIARY):
                continue
            signal = _as_platform_signal(classify_ytdlp_error(message, markers=markers))
            if signal is not None and signal.implied_state is not None:
                result.signal, result.error = signal, message
                return result
    redacted = secrets.redact_json(clean)
    result.webpage_url = str(redacted.get("webpage_url") or url)
    result.fields = {
        "title": redacted.get("title"),
        "description": redacted.get("description"),
        "duration": redacted.get("duration"),
    }
    return result
