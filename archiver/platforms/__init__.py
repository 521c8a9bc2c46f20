"""Platforms: YouTube and Facebook pages and yt-dlp errors read as source states.

Pure recognisers shared by the capture (archiver.capture.media) and the re-checks::

    recognize_page(url, final_url, status, html) -> Signal | None
    classify_ytdlp_error(message) -> Signal

Both return :class:`PlatformSignal`, a :class:`archiver.check.signals.Signal` that also
says which platform spoke and its finer verdict (``detail``: private, age_restricted,
geo_blocked, login_wall, ...). The phrases they look for are data in
config/platform_markers.toml, read once.
"""

from __future__ import annotations

from archiver.check.signals import Signal
from archiver.harvest.classify import classify_url
from archiver.platforms.facebook import FacebookPost, extract_post, recognize_facebook
from archiver.platforms.markers import Markers, load_markers
from archiver.platforms.signal import PlatformSignal
from archiver.platforms.youtube import VideoMetadata, extract_metadata, recognize_youtube
from archiver.platforms.ytdlp_errors import classify_message

__all__ = [
    "FacebookPost",
    "PlatformSignal",
    "VideoMetadata",
    "classify_ytdlp_error",
    "extract_metadata",
    "extract_post",
    "platform_of",
    "recognize_page",
]


def platform_of(url: str) -> str:
    return str(classify_url(url).platform)


def recognize_page(
    url: str,
    final_url: str,
    status: int | None,
    html: str,
    *,
    markers: Markers | None = None,
) -> Signal | None:
    """What a YouTube or Facebook page says about its content; None when the page is
    not one of theirs or says nothing platform-specific (then the HTTP status decides).

    ``url`` is the source's URL, ``final_url`` where redirects ended (a Facebook post
    that lands on /login is a login wall), ``status`` the final HTTP status (pages that
    are not HTML, or server errors, are left to the status).
    """
    markers = markers or load_markers()
    final = final_url or url
    platforms = {platform_of(url), platform_of(final)}
    if status is not None and status >= 500:
        return None
    if "youtube" in platforms:
        return recognize_youtube(final, html, markers)
    if "facebook" in platforms:
        return recognize_facebook(final, html, markers)
    return None


def classify_ytdlp_error(message: str, *, markers: Markers | None = None) -> Signal:
    """The state a yt-dlp error message implies (None when it says nothing, e.g. the
    page simply has no video)."""
    return classify_message(message, markers or load_markers())
