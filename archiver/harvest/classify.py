"""Platform and kind of a source, from its URL alone. Pure functions, no I/O.

The platform decides how a source is captured and checked (a YouTube video needs yt-dlp,
a Facebook post a browser and the platform's "content isn't available" markers); the
kind tells a monitor what was cited. Both come from the URL only: nothing is fetched.

Every http(s) URL that is not on a known social platform is platform "news" (kind
"article") when it names a page, because that is what monitoring reports cite: news
outlets, but also government press releases and NGO pages, which are checked the same
way. Two exceptions use platform "web": a site's home page (kind "home"), which is no
evidence of a particular claim, and files recognised by their extension (document, image,
media), which are captured as files rather than as pages.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

from archiver.harvest.normalize import normalize_url


class Platform(StrEnum):
    NEWS = "news"
    FACEBOOK = "facebook"
    YOUTUBE = "youtube"
    TELEGRAM = "telegram"
    TWITTER = "twitter"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    VK = "vk"
    WEB = "web"


class Kind(StrEnum):
    ARTICLE = "article"
    POST = "post"
    GROUP_POST = "group_post"
    PHOTO = "photo"
    VIDEO = "video"
    REEL = "reel"
    CHANNEL = "channel"
    PROFILE = "profile"
    GROUP = "group"
    PAGE = "page"
    PLAYLIST = "playlist"
    SEARCH = "search"
    DOCUMENT = "document"
    IMAGE = "image"
    MEDIA = "media"
    HOME = "home"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Classification:
    """What a URL points at. Both fields hold enum members, which compare equal to str."""

    platform: str
    kind: str


_DOMAINS: tuple[tuple[Platform, tuple[str, ...]], ...] = (
    (Platform.YOUTUBE, ("youtube.com", "youtu.be", "youtube-nocookie.com")),
    (Platform.FACEBOOK, ("facebook.com", "fb.com", "fb.watch", "fb.me")),
    (Platform.TWITTER, ("twitter.com", "x.com", "t.co")),
    (Platform.TELEGRAM, ("t.me", "telegram.me", "telegram.dog")),
    (Platform.INSTAGRAM, ("instagram.com", "instagr.am")),
    (Platform.TIKTOK, ("tiktok.com",)),
    (Platform.VK, ("vk.com", "vk.ru", "vkontakte.ru", "vk.cc")),
)

_EXTENSIONS: dict[str, Kind] = {
    **dict.fromkeys(
        ("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf",
         "csv", "epub"),
        Kind.DOCUMENT,
    ),
    **dict.fromkeys(
        ("jpg", "jpeg", "png", "gif", "webp", "bmp", "svg", "tif", "tiff", "heic", "avif"),
        Kind.IMAGE,
    ),
    **dict.fromkeys(
        ("mp4", "mp3", "webm", "m4a", "m4v", "mov", "avi", "mkv", "ogg", "oga", "ogv",
         "wav", "flac", "aac", "3gp"),
        Kind.MEDIA,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Parts:
    host: str
    segments: tuple[str, ...]  # decoded path segments, without empty ones
    query: dict[str, str]  # first value of each parameter, names lower-cased
    route: bool  # a "#!/..." or "#/..." fragment that selects content


def _platform(host: str) -> Platform | None:
    for platform, domains in _DOMAINS:
        if any(host == d or host.endswith("." + d) for d in domains):
            return platform
    return None


def _youtube(p: _Parts) -> Kind:
    s = p.segments
    if p.host.endswith("youtu.be"):
        return Kind.VIDEO if s else Kind.HOME
    if not s:
        return Kind.HOME
    head = s[0]
    if head == "watch" and "v" in p.query:
        return Kind.VIDEO
    if head in ("shorts", "embed", "v", "live", "e") and len(s) >= 2:
        return Kind.PLAYLIST if s[1] == "videoseries" else Kind.VIDEO
    if (head in ("channel", "c", "user") and len(s) >= 2) or head.startswith("@"):
        return Kind.CHANNEL
    if head == "playlist":
        return Kind.PLAYLIST
    if head in ("results", "hashtag"):
        return Kind.SEARCH
    if head == "post":
        return Kind.POST
    return Kind.OTHER


_FB_RESERVED = frozenset(
    {"watch", "reel", "reels", "groups", "photo", "photo.php", "permalink.php", "story.php",
     "profile.php", "pages", "events", "hashtag", "search", "share", "media", "notes",
     "people", "video.php", "videos", "marketplace", "gaming", "login", "login.php", "help",
     "policies", "privacy", "settings", "messages", "friends", "stories", "live",
     "business", "ads", "l.php", "sharer", "sharer.php", "dialog", "plugins", "home.php",
     "photos", "posts", "fundraisers", "places"}
)  # fmt: skip


def _facebook(p: _Parts) -> Kind:
    s, q = p.segments, p.query
    if p.host.endswith("fb.watch"):
        return Kind.VIDEO if s else Kind.OTHER
    if p.host.endswith("fb.me"):
        return Kind.OTHER
    if not s:
        return Kind.HOME
    head = s[0]
    if head in ("permalink.php", "story.php") and "story_fbid" in q:
        return Kind.POST
    if head == "groups":
        if len(s) >= 4 and s[2] in ("posts", "permalink"):
            return Kind.GROUP_POST
        return Kind.GROUP if len(s) >= 2 else Kind.OTHER
    if head in ("photo", "photo.php") or (head == "media" and "set" in q):
        return Kind.PHOTO
    if (head in ("watch", "video.php") and "v" in q) or (head == "videos" and len(s) >= 2):
        return Kind.VIDEO
    if head in ("reel", "reels") and len(s) >= 2:
        return Kind.REEL
    if head == "share" and len(s) >= 2:
        return {"p": Kind.POST, "v": Kind.VIDEO, "r": Kind.REEL}.get(s[1], Kind.OTHER)
    if head in ("notes", "stories") and len(s) >= 2:
        return Kind.POST
    if head in ("hashtag", "search"):
        return Kind.SEARCH
    if head == "pages":
        return Kind.PAGE
    if head in ("profile.php", "people"):
        return Kind.PROFILE
    if head in _FB_RESERVED:
        return Kind.OTHER
    # /<page or user>/...
    if len(s) >= 3 and s[1] in ("posts", "activity"):
        return Kind.POST
    if len(s) >= 3 and s[1] == "photos":
        return Kind.PHOTO
    if len(s) >= 3 and s[1] == "videos":
        return Kind.VIDEO
    return Kind.PROFILE


def _twitter(p: _Parts) -> Kind:
    s = p.segments
    if p.host.endswith("t.co"):
        return Kind.OTHER
    if not s:
        return Kind.HOME
    if len(s) >= 3 and ("status" in s[1:-1] or "statuses" in s[1:-1]):
        return Kind.POST
    if s[0] in ("search", "hashtag", "explore"):
        return Kind.SEARCH
    if s[0] == "i":
        return Kind.VIDEO if len(s) >= 3 and s[1] == "broadcasts" else Kind.OTHER
    if s[0] in ("home", "intent", "share", "settings", "messages", "notifications"):
        return Kind.OTHER
    return Kind.PROFILE


_TG_RESERVED = frozenset(
    {"addstickers", "addemoji", "share", "proxy", "socks", "setlanguage", "login", "iv",
     "bg", "addtheme", "invoice", "boost", "addlist", "contact"}
)  # fmt: skip


def _telegram(p: _Parts) -> Kind:
    s = p.segments
    if s and s[0] == "s":
        s = s[1:]
    if not s:
        return Kind.HOME
    if s[0] == "joinchat" or s[0].startswith("+"):
        return Kind.GROUP
    if s[0] in _TG_RESERVED:
        return Kind.OTHER
    if s[0] == "c":
        return Kind.POST if len(s) >= 3 else Kind.CHANNEL
    if len(s) >= 2 and s[-1].isdigit():
        return Kind.POST
    return Kind.CHANNEL


def _instagram(p: _Parts) -> Kind:
    s = p.segments
    if not s:
        return Kind.HOME
    if len(s) >= 3 and s[1] in ("p", "reel", "reels", "tv"):
        s = s[1:]  # /<user>/p/<code>
    head = s[0]
    if len(s) >= 2 and head == "p":
        return Kind.POST
    if len(s) >= 2 and head in ("reel", "reels"):
        return Kind.REEL
    if len(s) >= 2 and head == "tv":
        return Kind.VIDEO
    if len(s) >= 2 and head == "stories":
        return Kind.POST
    if head == "explore":
        return Kind.SEARCH if len(s) >= 2 and s[1] == "tags" else Kind.OTHER
    if head in ("accounts", "direct", "about", "legal", "developer"):
        return Kind.OTHER
    return Kind.PROFILE


def _tiktok(p: _Parts) -> Kind:
    s = p.segments
    if p.host.startswith(("vm.", "vt.")):
        return Kind.VIDEO if s else Kind.OTHER
    if not s:
        return Kind.HOME
    if s[0].startswith("@"):
        if len(s) >= 3 and s[1] == "video":
            return Kind.VIDEO
        if len(s) >= 3 and s[1] == "photo":
            return Kind.PHOTO
        return Kind.PROFILE
    if s[0] in ("t", "v", "embed") and len(s) >= 2:
        return Kind.VIDEO
    if s[0] in ("tag", "search", "discover"):
        return Kind.SEARCH
    return Kind.OTHER


_VK_OBJECT_RE = re.compile(r"(wall|video|clip|photo|album|topic|doc)-?\d+_\d+")
_VK_OBJECT_KIND = {
    "wall": Kind.POST,
    "video": Kind.VIDEO,
    "clip": Kind.REEL,
    "photo": Kind.PHOTO,
    "album": Kind.PHOTO,
    "topic": Kind.POST,
    "doc": Kind.DOCUMENT,
}
_VK_OWNER_RE = re.compile(r"(club|event|public|id)\d+")
_VK_OWNER_KIND = {"club": Kind.GROUP, "event": Kind.GROUP, "public": Kind.PAGE, "id": Kind.PROFILE}


def _vk(p: _Parts) -> Kind:
    s = p.segments
    for key in ("w", "z"):  # an object opened over another page: vk.com/club1?w=wall-1_2
        m = _VK_OBJECT_RE.match(p.query.get(key, ""))
        if m is not None:
            return _VK_OBJECT_KIND[m.group(1)]
    if p.host.endswith("vk.cc"):
        return Kind.OTHER
    if not s:
        return Kind.HOME
    if (m := _VK_OBJECT_RE.fullmatch(s[0])) is not None:
        return _VK_OBJECT_KIND[m.group(1)]
    if (m := _VK_OWNER_RE.fullmatch(s[0])) is not None:
        return _VK_OWNER_KIND[m.group(1)]
    if s[0] in ("search", "feed"):
        return Kind.SEARCH if s[0] == "search" else Kind.OTHER
    if s[0].endswith(".php") or s[0] in ("video", "music", "im", "friends", "groups"):
        return Kind.OTHER
    return Kind.PROFILE


_RULES = {
    Platform.YOUTUBE: _youtube,
    Platform.FACEBOOK: _facebook,
    Platform.TWITTER: _twitter,
    Platform.TELEGRAM: _telegram,
    Platform.INSTAGRAM: _instagram,
    Platform.TIKTOK: _tiktok,
    Platform.VK: _vk,
}


def _parts(url: str) -> _Parts | None:
    try:
        split = urlsplit(url)
        host = (split.hostname or "").rstrip(".")
    except ValueError:
        return None
    segments = tuple(unquote(seg) for seg in split.path.split("/") if seg)
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(name.lower(), value)
    return _Parts(host, segments, query, split.fragment.startswith(("!", "/")))


def classify_url(url: str) -> Classification:
    """Platform and kind of ``url``; best on a normalized URL, but raw ones work too.

    A raw URL is normalized first when it can be (so "m.facebook.com/story.php?..." and
    "youtu.be/<id>" are recognised); anything that is no http(s) URL at all is
    ``web``/``other``. Never raises.
    """
    with contextlib.suppress(ValueError):  # not vetted: classify the raw string
        url = normalize_url(url)
    parts = _parts(url.strip())
    if parts is None or not parts.host:
        return Classification(Platform.WEB, Kind.OTHER)
    platform = _platform(parts.host)
    if platform is not None:
        return Classification(platform, _RULES[platform](parts))
    if parts.segments:
        ext = parts.segments[-1].rpartition(".")[2].lower() if "." in parts.segments[-1] else ""
        kind = _EXTENSIONS.get(ext)
        if kind is not None:
            return Classification(Platform.WEB, kind)
    elif not parts.query and not parts.route:
        return Classification(Platform.WEB, Kind.HOME)
    return Classification(Platform.NEWS, Kind.ARTICLE)
