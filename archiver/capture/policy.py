"""Which capture methods a source gets: pure function of its kind and the settings."""

from __future__ import annotations

from collections.abc import Mapping

from archiver.config import PlatformsSettings


def capture_methods(kind: str, modes: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """ "http", "browser" or both (in that order) for a source of this ``kind``."""
    chosen = modes.get(kind) or modes["default"]
    return tuple(m for m in ("http", "browser") if m in chosen)


def wants_browser_after_http(methods: tuple[str, ...], content_type: str | None) -> bool:
    """A document or image found by the plain capture needs no browser: a reader
    sees the same bytes. HTML (or an unknown type) gets the browser when asked for."""
    if "browser" not in methods:
        return False
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {"text/html", "application/xhtml+xml", ""} or media.startswith("text/")


# --- Platforms (issue 4) -------------------------------------------------------------

_VIDEO_KINDS = frozenset({"video", "reel"})


def platform_steps(platform: str, kind: str, settings: PlatformsSettings) -> tuple[str, ...]:
    """The platform steps a source gets after its page capture (docs/platforms.md):
    "recognize" (the platform's verdict and extracted text), "video" (yt-dlp),
    "video_if_present" (yt-dlp when the page names a video), "images" (full-size
    pictures of a post). ``platforms.video = false`` switches videos off.
    """
    video = settings.video
    if platform == "youtube":
        return ("recognize", "video") if video and kind in _VIDEO_KINDS else ("recognize",)
    if platform == "facebook":
        steps: tuple[str, ...] = ("recognize", "images")
        if video:
            steps += ("video",) if kind in _VIDEO_KINDS else ("video_if_present",)
        return steps
    return ()
