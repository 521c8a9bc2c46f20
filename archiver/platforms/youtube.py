"""YouTube watch pages: the player's own verdict (playabilityStatus) and metadata.

The watch page carries the player response as JSON: ``ytInitialPlayerResponse = {...}``
in current markup, ``ytplayer.config = {"args": {"player_response": "<json>"}}`` in
older markup. Its ``playabilityStatus.status`` is what the player would do (OK, ERROR,
UNPLAYABLE, LOGIN_REQUIRED, AGE_CHECK_REQUIRED, LIVE_STREAM_OFFLINE, ...) and the reason
texts say why, in the viewer's language. Pure functions: text in, verdict out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from archiver.platforms._pagejson import meta_content, object_after, texts, title_of
from archiver.platforms.markers import Markers, fold
from archiver.platforms.signal import PlatformSignal

_PLAYER_RESPONSE = re.compile(r"ytInitialPlayerResponse\s*=\s*")
_PLAYER_CONFIG = re.compile(r"ytplayer\.config\s*=\s*")
_INITIAL_DATA = re.compile(r"ytInitialData\s*(?:=|\"\]\s*=)\s*")


def player_response(html: str) -> dict[str, Any] | None:
    """The page's player response, from current or older markup; None if absent."""
    found = object_after(html, _PLAYER_RESPONSE)
    if found is not None and "playabilityStatus" in found:
        return found
    config = object_after(html, _PLAYER_CONFIG)
    if config is not None:
        embedded = config.get("args", {}).get("player_response")
        if isinstance(embedded, str):
            try:
                decoded = json.loads(embedded)
            except ValueError:
                return None
            return decoded if isinstance(decoded, dict) else None
    return found


@dataclass(frozen=True)
class Playability:
    status: str
    reasons: tuple[str, ...]  # reason, error screen reason and subreason, messages
    available_countries: int | None
    live_content: bool
    live_now: bool


def playability(response: dict[str, Any]) -> Playability:
    status_node = response.get("playabilityStatus") or {}
    reasons: list[str] = []
    if isinstance(status_node.get("reason"), str):
        reasons.append(status_node["reason"])
    screen = status_node.get("errorScreen") or {}
    for renderer in screen.values() if isinstance(screen, dict) else ():
        if isinstance(renderer, dict):
            for key in ("reason", "subreason", "title"):
                reasons.extend(texts(renderer.get(key)))
    reasons.extend(texts(status_node.get("messages")))
    micro = (response.get("microformat") or {}).get("playerMicroformatRenderer") or {}
    countries = micro.get("availableCountries")
    details = response.get("videoDetails") or {}
    live_details = micro.get("liveBroadcastDetails") or {}
    return Playability(
        status=str(status_node.get("status") or "UNKNOWN").upper(),
        reasons=tuple(dict.fromkeys(r.strip() for r in reasons if r.strip())),
        available_countries=len(countries) if isinstance(countries, list) else None,
        live_content=bool(details.get("isLiveContent")),
        live_now=bool(live_details.get("isLiveNow")) or bool(details.get("isLive")),
    )


def _signal(state: str | None, detail: str, reason: str) -> PlatformSignal:
    return PlatformSignal(state, reason, platform="youtube", detail=detail)


def decide(play: Playability, markers: Markers) -> PlatformSignal:
    """The state a playability status implies. A bot check or rate limit is never
    read as removal; a geo-block or age gate is restricted, not removed."""
    said = "; ".join(play.reasons) or "no reason given"
    text = fold(" ".join(play.reasons))
    phrases = markers.youtube_reasons
    status = play.status
    if phrases.first_match(text, ["bot_check"]):
        return _signal("blocked", "bot_check", f"YouTube {status}: {said} (a bot check)")
    if status == "OK":
        if play.live_now:
            return _signal("live", "live_now", "YouTube OK: a live stream in progress")
        return _signal("live", "available", "YouTube OK: the watch page offers the video")
    if status == "LIVE_STREAM_OFFLINE":
        return _signal("live", "live_offline", f"YouTube {status}: {said}")
    if status in ("AGE_CHECK_REQUIRED", "AGE_VERIFICATION_REQUIRED"):
        return _signal("restricted", "age_restricted", f"YouTube {status}: {said}")
    if status == "CONTENT_CHECK_REQUIRED":
        return _signal("restricted", "content_check", f"YouTube {status}: {said}")
    restricted = phrases.first_match(text, ["private", "age", "geo", "members_only"])
    detail = {"private": "private", "age": "age_restricted", "geo": "geo_blocked"}.get(
        restricted or "", "members_only"
    )
    if restricted:
        return _signal("restricted", detail, f"YouTube {status}: {said}")
    if status == "LOGIN_REQUIRED":
        return _signal("restricted", "login_required", f"YouTube {status}: {said}")
    if status == "UNPLAYABLE":
        countries = play.available_countries
        if countries is not None and 0 < countries < markers.youtube_worldwide_countries_min:
            return _signal(
                "restricted",
                "geo_blocked",
                f"YouTube {status}: {said}; the video is listed for only {countries} countries",
            )
        if phrases.first_match(text, ["removed"]):
            return _signal("removed", "removed", f"YouTube {status}: {said}")
        # Cannot be played here, for a reason we do not know: not evidence of removal.
        return _signal("restricted", "unplayable", f"YouTube {status}: {said}")
    if status == "ERROR":
        return _signal("removed", "removed", f"YouTube {status}: {said}")
    return _signal(None, "unknown", f"YouTube playability {status}: {said}")


def recognize_youtube(final_url: str, html: str, markers: Markers) -> PlatformSignal | None:
    response = player_response(html)
    if response is not None and "playabilityStatus" in response:
        return decide(playability(response), markers)
    if "accounts.google.com" in final_url or "consent.youtube.com" in final_url:
        return _signal("restricted", "login_wall", f"YouTube sent us to {final_url}")
    if "google.com/sorry" in final_url:
        return _signal("blocked", "bot_check", "YouTube answered with its unusual-traffic page")
    if object_after(html, _INITIAL_DATA) is not None:
        # Channel, playlist and search pages: content rendered from ytInitialData.
        return _signal("live", "available", "YouTube page with its content (ytInitialData)")
    return None


@dataclass(frozen=True)
class VideoMetadata:
    video_id: str | None
    title: str | None
    description: str | None
    duration_seconds: int | None
    channel: str | None
    published: str | None
    is_live_content: bool


def extract_metadata(html: str) -> VideoMetadata | None:
    """Title, description, duration and channel from the watch page (None if the page
    has no player response: not a watch page)."""
    response = player_response(html)
    if response is None:
        return None
    details = response.get("videoDetails") or {}
    micro = (response.get("microformat") or {}).get("playerMicroformatRenderer") or {}
    length = details.get("lengthSeconds") or micro.get("lengthSeconds")
    description = details.get("shortDescription")
    if not isinstance(description, str):
        found = texts(micro.get("description"))
        description = found[0] if found else meta_content(html, "og:description")
    title = details.get("title")
    if not isinstance(title, str):
        found = texts(micro.get("title"))
        title = found[0] if found else title_of(html)
    return VideoMetadata(
        video_id=details.get("videoId"),
        title=title,
        description=description,
        duration_seconds=int(length)
        if isinstance(length, str | int) and str(length).isdigit()
        else None,
        channel=details.get("author") or micro.get("ownerChannelName"),
        published=micro.get("publishDate") or micro.get("uploadDate"),
        is_live_content=bool(details.get("isLiveContent")),
    )
