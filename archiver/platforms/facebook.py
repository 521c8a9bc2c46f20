"""Facebook pages: what a reader got (post, login wall, checkpoint, "content isn't
available", temporary block, unsupported-browser interstitial), the post's text and its
full-size images. Pure functions over the page's HTML."""

from __future__ import annotations

import contextlib
import html as htmllib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.platforms._pagejson import meta_content, title_of, visible_text
from archiver.platforms.markers import Markers, fold
from archiver.platforms.signal import PlatformSignal


def _signal(state: str | None, detail: str, reason: str) -> PlatformSignal:
    return PlatformSignal(state, reason, platform="facebook", detail=detail)


def has_content(html: str, markers: Markers) -> bool:
    """Does the page carry a post, photo, video or feed (not only chrome and forms)?"""
    return any(marker in html for marker in markers.facebook_content)


def recognize_facebook(final_url: str, html: str, markers: Markers) -> PlatformSignal | None:
    path = urlsplit(final_url).path.lower()
    if any(path.startswith(p) for p in markers.facebook_checkpoint_paths):
        return _signal("blocked", "checkpoint", f"Facebook account checkpoint at {final_url}")
    title = title_of(html) or ""
    text = fold(f"{title} {visible_text(html)}")
    phrases = markers.facebook_text
    if phrases.first_match(text, ["temporarily_blocked"]):
        return _signal("blocked", "temporarily_blocked", "Facebook: temporarily blocked")
    content = has_content(html, markers)
    if not content:
        found = phrases.first_match(text, ["checkpoint", "unsupported_browser", "unavailable"])
        if found == "checkpoint":
            return _signal("blocked", "checkpoint", "Facebook asks the account to verify itself")
        if found == "unsupported_browser":
            # Served instead of the content: says nothing about the content itself.
            return _signal(
                None, "unsupported_browser", f"Facebook unsupported-browser page ({title})"
            )
        if found == "unavailable":
            return _signal(
                "removed", "content_unavailable", "Facebook: this content isn't available"
            )
        if any(path.startswith(p) for p in markers.facebook_login_paths):
            return _signal("restricted", "login_wall", f"Facebook login form at {final_url}")
        if phrases.first_match(fold(title), ["login_wall"]) or 'id="login_form"' in html:
            return _signal(
                "restricted", "login_wall", f"Facebook shows only a login form ({title})"
            )
        return None  # nothing we know: the HTTP status decides
    return _signal("live", "available", "Facebook: the content is in the page")


@dataclass(frozen=True)
class FacebookPost:
    """What a reader sees of a post, for change detection (not a full parse)."""

    text: str | None
    title: str | None
    image_urls: tuple[str, ...]
    video_urls: tuple[str, ...]


_STORY_BLOCKS = re.compile(
    r'<div[^>]+(?:class="[^"]*\b(?:userContent|story_body_container)\b[^"]*"|data-ad-preview="message")[^>]*>'
    r"(.*?)</div>\s*</div>",
    re.S,
)
_IMAGE_URL = re.compile(r'https?:(?:\\/\\/|//)[^"\'\s<>]+?\.(?:jpg|jpeg|png|webp)[^"\'\s<>]*', re.I)
_SIZE_PART = re.compile(r"/[sp]\d+x\d+/|/c\d+\.\d+\.\d+\.\d+/")


def _unescape_js(url: str) -> str:
    url = url.replace("\\/", "/")
    with contextlib.suppress(ValueError):  # not a JSON string escape after all
        url = json.loads(f'"{url}"')
    return htmllib.unescape(url)


def extract_post(html: str) -> FacebookPost:
    """The post's visible text (og:description when the markup hides it), and the
    image and video URLs the page names, full-size variants preferred."""
    # Desktop pages of 2020 kept story markup inside <code><!-- ... --></code>.
    unhidden = re.sub(r"<code[^>]*><!--(.*?)--></code>", r"\1", html, flags=re.S)
    blocks = [" ".join(visible_text(b).split()) for b in _STORY_BLOCKS.findall(unhidden)]
    text = "\n".join(dict.fromkeys(b for b in blocks if b)) or None
    description = meta_content(html, "og:description")
    if not text or (description and len(description) > len(text)):
        text = description or text
    candidates = [meta_content(html, "og:image") or ""]
    candidates += [_unescape_js(raw) for raw in _IMAGE_URL.findall(unhidden)]
    # Pictures people posted live on scontent hosts; static.xx.fbcdn.net/rsrc.php holds
    # Facebook's own icons and sprites.
    images = [u for u in candidates if "scontent" in urlsplit(u).netloc and "/rsrc.php" not in u]
    # Size-limited variants (/s320x320/, /p180x540/, crops) are thumbnails of the same
    # picture: keep the full-size ones when the page names both.
    full = [u for u in images if not _SIZE_PART.search(u)]
    chosen = tuple(dict.fromkeys(full or images))
    videos = []
    for prop in ("og:video", "og:video:url", "og:video:secure_url"):
        value = meta_content(html, prop)
        if value:
            videos.append(value)
    return FacebookPost(
        text=text.strip() if text else None,
        title=title_of(html),
        image_urls=chosen,
        video_urls=tuple(dict.fromkeys(videos)),
    )
