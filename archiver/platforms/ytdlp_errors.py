"""yt-dlp's error messages read as states. A rate limit or bot check is "blocked" (our
access), never "removed"; private, age- and geo-gated videos are "restricted"."""

from __future__ import annotations

from archiver.platforms.markers import Markers, fold
from archiver.platforms.signal import PlatformSignal

_ORDER = ("blocked", "restricted", "removed", "dead", "unreachable", "no_media")
_STATES = {
    "blocked": ("blocked", "bot_check"),
    "restricted": ("restricted", "restricted"),
    "removed": ("removed", "removed"),
    "dead": ("dead", "removed"),
    "unreachable": ("unreachable", "network"),
    "no_media": (None, "no_media"),
}
_RESTRICTED_DETAIL = (
    ("private", "private"),
    ("age", "age_restricted"),
    ("inappropriate", "age_restricted"),
    ("country", "geo_blocked"),
    ("geo", "geo_blocked"),
    ("member", "members_only"),
)


def classify_message(message: str, markers: Markers) -> PlatformSignal:
    text = fold(message)
    # yt-dlp prefixes "ERROR: [youtube] <id>: "; the reason follows.
    reason = " ".join(message.split()) or "no message"
    found = markers.ytdlp.first_match(text, _ORDER)
    if found is None:
        return PlatformSignal(None, f"yt-dlp: {reason}", platform="ytdlp", detail="unknown")
    state, detail = _STATES[found]
    if found == "restricted":
        detail = next((d for word, d in _RESTRICTED_DETAIL if word in text), "login_required")
    return PlatformSignal(state, f"yt-dlp: {reason}", platform="ytdlp", detail=detail)
