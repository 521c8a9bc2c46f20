"""A source's identity: the canonical form of a URL as cited. Pure functions, no I/O.

Two citations of the same thing must give the same string, and two different things must
never give the same string. When those pull apart, the second rule wins: a duplicate
source costs one extra capture, a collision loses evidence. Hence:

- Generic sites keep everything that could matter to their server: path case, a trailing
  slash, "www.", the scheme, the order of query parameters. Only changes that no server
  can observe (RFC 3986 section 6 equivalences: case of scheme, host and percent-escapes,
  default ports, dot segments, escaped unreserved characters) and tracking parameters
  with unmistakable names (utm_*, fbclid, ...) are normalised away.
- Known platforms get their own rules, because their URL semantics are known: the
  mobile hosts serve the same post, a trailing slash is ignored, YouTube's many forms of
  one video are one video. Their URLs are all https.

Choices, in detail:

- Fragments are dropped, except routes: "#!/..." (hash-bang) and "#/..." (single-page
  apps, common on government sites) select the content, so they are kept. Facebook and
  Twitter hash-bang URLs are turned into the path they route to.
- Query parameters keep their order (some sites read them positionally); dropping one
  never reorders the rest. Empty "&&" segments and a bare "?" are removed. On Facebook
  only, the identifying keys come first in a fixed order (story_fbid, fbid, id, v, set,
  multi_permalinks): its endpoints read named keys, and links are shared in both orders.
- Generic parameter names ("si", "feature", "s", "t") are dropped only on the platforms
  that use them for tracking; elsewhere they may select content.
- Raw non-ASCII characters and characters a browser would escape are percent-encoded as
  UTF-8, so a Cyrillic path as typed and as copied from an address bar agree. Reserved
  characters are never decoded (%2F stays %2F).
- Redirect shims (l.facebook.com/l.php?u=, google.*/url?q=, youtube.com/redirect?q=,
  vk.com/away.php?to=) stand for their target, which is normalised instead.
- Twitter is canonicalised to x.com (twitter.com has redirected there since 2024),
  screen names to lower case (they are case-insensitive), like Telegram and Instagram
  user names. YouTube video ids, Facebook pfbid ids and Instagram shortcodes are
  case-sensitive and kept as written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from archiver.harvest.urls import host_to_ascii, vet_url

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
# What a browser percent-encodes (WHATWG path / query / fragment sets, ASCII part).
_PATH_ESCAPE = frozenset(' "<>`{}')
_QUERY_ESCAPE = frozenset(' "<>`')
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _fix_percent(text: str, escape: frozenset[str]) -> str:
    """Upper-case escapes, decode escaped unreserved characters, escape the rest as UTF-8.

    A "%" that starts no valid escape becomes "%25", which keeps the function idempotent.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
                decoded = chr(int(pair, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
                i += 3
                continue
            out.append("%25")
        elif ch in escape or ord(ch) < 0x21 or ord(ch) >= 0x7F:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: browsers resolve "." and ".." before sending a request."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


@dataclass
class _Url:
    scheme: str
    host: str
    port: str
    path: str
    query: list[str]  # raw "name=value" pairs, escapes already normalised
    fragment: str

    def render(self) -> str:
        port = f":{self.port}" if self.port else ""
        query = "?" + "&".join(self.query) if self.query else ""
        fragment = "#" + self.fragment if self.fragment else ""
        return f"{self.scheme}://{self.host}{port}{self.path}{query}{fragment}"

    def get(self, name: str) -> str | None:
        """The decoded value of the first parameter called ``name``, if any."""
        for pair in self.query:
            if _name(pair) == name:
                return unquote(pair.partition("=")[2])
        return None

    def drop(self, keep: Callable[[str], bool]) -> None:
        self.query = [p for p in self.query if keep(_name(p))]


def _name(pair: str) -> str:
    return unquote(pair.partition("=")[0]).lower()


def _parse(url: str) -> _Url:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    hostport = parts.netloc.rpartition("@")[2]  # userinfo is never part of the identity
    if hostport.startswith("["):
        close = hostport.index("]")
        host = "[" + ipaddress.IPv6Address(hostport[1:close]).compressed + "]"
        port = hostport[close + 2 :]
    else:
        raw_host, _, port = hostport.partition(":")
        host = (host_to_ascii(raw_host) or raw_host.lower()).rstrip(".")
    port = str(int(port)) if port else ""
    if port == _DEFAULT_PORTS.get(scheme):
        port = ""
    path = _remove_dot_segments(_fix_percent(parts.path, _PATH_ESCAPE)) or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = [_fix_percent(p, _QUERY_ESCAPE) for p in parts.query.split("&") if p]
    fragment = _fix_percent(parts.fragment, _QUERY_ESCAPE)
    return _Url(scheme, host, port, path, query, fragment)


# --- tracking parameters ---------------------------------------------------------------

_TRACKING = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "ref_src", "ref_url",
        "__tn__", "mibextid", "rdid", "share_url", "ab_channel", "_hsenc", "_hsmi",
        "mkt_tok", "twclid", "ttclid", "li_fat_id", "srsltid", "oly_anon_id",
        "oly_enc_id", "vero_id", "wickedid", "_openstat",
    }
)  # fmt: skip
_TRACKING_RE = re.compile(r"utm_.*|__(?:cft|xts)__(?:\[.*\])?")

_YOUTUBE_TRACKING = frozenset(
    {
        "feature", "si", "pp", "app", "persist_app", "noapp", "cbrd", "ucbcb",
        "embeds_referring_euri", "embeds_euri", "embeds_referring_origin",
        "source_ve_path", "themerefresh", "sub_confirmation", "kw", "index", "bpctr",
        "has_verified",
    }
)  # fmt: skip
_FACEBOOK_TRACKING = frozenset(
    {
        "refsrc", "_rdr", "refid", "ref", "fref", "hc_ref", "hc_location", "sfnsn",
        "notif_id", "notif_t", "paipv", "eav", "comment_tracking", "acontext", "extid",
        "app", "_ft_", "theater",
    }
)  # fmt: skip
_FACEBOOK_PHOTO_VIEW = frozenset({"type", "source", "referrer"})
_FACEBOOK_ID_ORDER = ("story_fbid", "fbid", "id", "v", "set", "multi_permalinks")
_TWITTER_TRACKING = frozenset({"s", "t", "cn"})
_INSTAGRAM_TRACKING = frozenset({"taken-by", "hl_ref"})
_TIKTOK_TRACKING = frozenset(
    {
        "is_from_webapp", "sender_device", "is_copy_url", "_r", "_t", "web_id",
        "share_app_id", "share_link_id", "share_item_id", "tt_from", "u_code", "user_id",
        "sec_user_id", "sec_uid", "timestamp", "checksum", "source", "refer",
        "referer_url", "referer_video_id", "enter_from", "enter_method", "preview_pb",
        "region", "utm_campaign",
    }
)  # fmt: skip
_VK_TRACKING = frozenset({"from", "ref"})


def _is_tracking(name: str) -> bool:
    return name in _TRACKING or _TRACKING_RE.fullmatch(name) is not None


# --- hosts -------------------------------------------------------------------------------

_YOUTUBE_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com",
     "gaming.youtube.com", "youtu.be", "www.youtu.be", "youtube-nocookie.com",
     "www.youtube-nocookie.com"}
)  # fmt: skip
_FACEBOOK_HOSTS_RE = re.compile(
    r"(?:(?:www|m|mbasic|web|touch|free|mobile|d|x|iphone|0|[a-z]{2}-[a-z]{2})\.)?"
    r"(?:facebook\.com|fb\.com)"
)
_FB_SHORT_HOSTS = frozenset({"fb.watch", "www.fb.watch", "fb.me"})
_TWITTER_HOSTS = frozenset(
    {"twitter.com", "www.twitter.com", "mobile.twitter.com", "m.twitter.com", "x.com",
     "www.x.com", "mobile.x.com", "fxtwitter.com", "vxtwitter.com", "fixupx.com",
     "fixvx.com"}
)  # fmt: skip
_TELEGRAM_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog"})
_INSTAGRAM_HOSTS = frozenset(
    {"instagram.com", "www.instagram.com", "m.instagram.com", "instagr.am", "www.instagr.am"}
)
_TIKTOK_HOSTS = frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com"})
_TIKTOK_SHORT_HOSTS = frozenset({"vm.tiktok.com", "vt.tiktok.com"})
_VK_HOSTS = frozenset(
    {"vk.com", "www.vk.com", "m.vk.com", "new.vk.com", "vkontakte.ru", "www.vkontakte.ru",
     "m.vkontakte.ru"}
)  # fmt: skip
_GOOGLE_RE = re.compile(r"(?:www\.)?google\.(?:com|[a-z]{2}|com?\.[a-z]{2})")


def _unwrap_redirect(u: _Url) -> str | None:
    """The target of a redirect shim, or None when ``u`` is not one."""
    if u.host in ("l.facebook.com", "lm.facebook.com", "l.messenger.com") and u.path == "/l.php":
        return u.get("u")
    if u.host in ("l.instagram.com",) and u.path == "/":
        return u.get("u")
    if _GOOGLE_RE.fullmatch(u.host) and u.path == "/url":
        return u.get("q") or u.get("url")
    if u.host in _YOUTUBE_HOSTS and u.path == "/redirect":
        return u.get("q")
    if u.host in _VK_HOSTS and u.path == "/away.php":
        return u.get("to")
    return None


# --- platforms -----------------------------------------------------------------------------

_VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_YT_VIDEO_PATH_RE = re.compile(r"/(?:shorts|embed|v|live|e|watch)/([^/]+)")
_T_HMS_RE = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_T_CLOCK_RE = re.compile(r"(?:(\d+):)?(\d+):(\d+)")


def youtube_seconds(raw: str) -> int | None:
    """A YouTube start time ("90", "90s", "1m30s", "1h2m3s", "1:30") in seconds.

    None when it is not a time or is zero (a start at 0 is no start time).
    """
    s = raw.strip().lower()
    total: int | None = None
    if re.fullmatch(r"\d+(?:\.\d+)?s?", s):
        total = int(float(s.rstrip("s")))
    elif s and (m := _T_HMS_RE.fullmatch(s) or _T_CLOCK_RE.fullmatch(s)) is not None:
        h, mi, se = (int(g) if g else 0 for g in m.groups())
        total = h * 3600 + mi * 60 + se
    return total or None


def _personal_list(playlist: str) -> bool:
    """Mixes (RD...), Watch Later and Liked videos depend on the viewer, not the citer."""
    return playlist.startswith("RD") or playlist in ("WL", "LL")


def _strip_slash(u: _Url) -> None:
    if len(u.path) > 1:
        u.path = u.path.rstrip("/") or "/"


def _youtube(u: _Url) -> None:
    u.scheme = "https"
    _strip_slash(u)
    video: str | None = None
    short = u.host in ("youtu.be", "www.youtu.be")
    if short:
        video = unquote(u.path[1:].split("/")[0]) or None
    elif u.path == "/watch":
        video = u.get("v")
    elif (m := _YT_VIDEO_PATH_RE.fullmatch(u.path)) is not None and m.group(1) not in (
        "videoseries",  # /embed/videoseries?list=...: a playlist
        "live_stream",  # /embed/live_stream?channel=...: whatever the channel streams now
    ):
        video = unquote(m.group(1))
    series = u.get("list")
    if u.path == "/embed/videoseries" and series and _VIDEO_ID_RE.fullmatch(series):
        u.path, u.query = "/playlist", [f"list={series}"]
    if video is not None and _VIDEO_ID_RE.fullmatch(video):
        start = None
        for key in ("t", "start", "time_continue"):
            value = u.get(key)
            if value is not None:
                start = youtube_seconds(value)
                break
        if start is None and u.fragment.startswith("t="):
            start = youtube_seconds(u.fragment[2:])
        playlist = u.get("list")
        query = [f"v={video}"]
        if start:
            query.append(f"t={start}")
        if playlist and _VIDEO_ID_RE.fullmatch(playlist) and not _personal_list(playlist):
            query.append(f"list={playlist}")
        u.host, u.path, u.query, u.fragment = "www.youtube.com", "/watch", query, ""
        return
    if short and u.path != "/":
        u.host = "youtu.be"  # not a video id: keep the short link as it is
    elif u.host != "music.youtube.com" or u.path == "/playlist":
        u.host = "www.youtube.com"  # YouTube Music has pages of its own (/browse/...)
    u.drop(lambda n: n not in _YOUTUBE_TRACKING)
    u.fragment = ""


def _hashbang_route(u: _Url) -> None:
    """Old "twitter.com/#!/user/status/1", "facebook.com/home.php#!/profile.php?id=1"
    style: the part after "#!" is the page that was shown, whatever the path was."""
    if u.fragment.startswith("!/"):
        route = urlsplit("https://h" + u.fragment[1:])
        u.path = _remove_dot_segments(_fix_percent(route.path, _PATH_ESCAPE)) or "/"
        u.query = [p for p in route.query.split("&") if p]
    u.fragment = ""


def _facebook(u: _Url) -> None:
    _hashbang_route(u)
    u.scheme = "https"
    if u.host not in _FB_SHORT_HOSTS:
        u.host = "www.facebook.com"
    elif u.host == "www.fb.watch":
        u.host = "fb.watch"
    _strip_slash(u)
    if u.path == "/story.php" and u.get("story_fbid"):
        u.path = "/permalink.php"  # the mobile endpoint for the desktop permalink
    photo = u.path in ("/photo", "/photo.php") or "/photos/" in u.path + "/"
    u.drop(lambda n: n not in _FACEBOOK_TRACKING and not (photo and n in _FACEBOOK_PHOTO_VIEW))
    first = [p for key in _FACEBOOK_ID_ORDER for p in u.query if _name(p) == key]
    u.query = first + [p for p in u.query if _name(p) not in _FACEBOOK_ID_ORDER]


_TWITTER_USER_RE = re.compile(r"/([A-Za-z0-9_]{1,15})(/.*)?")
_TWITTER_MEDIA_RE = re.compile(r"(/[^/]+/status)(?:es)?/(\d+)(?:/(?:photo|video)/\d+)?")


def _twitter(u: _Url) -> None:
    _hashbang_route(u)
    u.scheme, u.host = "https", "x.com"
    _strip_slash(u)
    if (m := _TWITTER_USER_RE.fullmatch(u.path)) is not None:
        u.path = "/" + m.group(1).lower() + (m.group(2) or "")
    u.path = _TWITTER_MEDIA_RE.sub(r"\1/\2", u.path)
    u.drop(lambda n: n not in _TWITTER_TRACKING)


_TG_USER_RE = re.compile(r"/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})(/.*)?")


def _telegram(u: _Url) -> None:
    u.scheme, u.host, u.fragment = "https", "t.me", ""
    _strip_slash(u)
    if (m := _TG_USER_RE.fullmatch(u.path)) is not None:
        u.path = "/" + m.group(1).lower() + (m.group(2) or "")


_IG_RESERVED = frozenset({"p", "reel", "reels", "tv", "stories", "explore", "accounts"})


def _instagram(u: _Url) -> None:
    u.scheme, u.host, u.fragment = "https", "www.instagram.com", ""
    _strip_slash(u)
    segments = u.path.split("/")[1:]
    if len(segments) == 3 and segments[1] in ("p", "reel", "reels", "tv"):
        segments = segments[1:]  # /<user>/p/<code>: the code alone identifies the post
    if len(segments) == 2 and segments[0] == "reels":
        segments[0] = "reel"
    if segments and segments[0] and segments[0] not in _IG_RESERVED and len(segments) <= 2:
        segments[0] = segments[0].lower()  # user names are case-insensitive
    u.path = "/" + "/".join(segments)
    u.drop(lambda n: n not in _INSTAGRAM_TRACKING)


def _tiktok(u: _Url) -> None:
    u.scheme, u.fragment = "https", ""
    if u.host in _TIKTOK_HOSTS:
        u.host = "www.tiktok.com"
    _strip_slash(u)
    u.drop(lambda n: n not in _TIKTOK_TRACKING)


def _vk(u: _Url) -> None:
    u.scheme, u.host, u.fragment = "https", "vk.com", ""
    _strip_slash(u)
    u.drop(lambda n: n not in _VK_TRACKING)


def _platform_rule(host: str) -> Callable[[_Url], None] | None:
    if host in _YOUTUBE_HOSTS:
        return _youtube
    if host in _FB_SHORT_HOSTS or _FACEBOOK_HOSTS_RE.fullmatch(host):
        return _facebook
    if host in _TWITTER_HOSTS:
        return _twitter
    if host in _TELEGRAM_HOSTS:
        return _telegram
    if host in _INSTAGRAM_HOSTS:
        return _instagram
    if host in _TIKTOK_HOSTS or host in _TIKTOK_SHORT_HOSTS:
        return _tiktok
    if host in _VK_HOSTS:
        return _vk
    return None


def _normalize(url: str, depth: int) -> str:
    u = _parse(url)
    target = _unwrap_redirect(u)
    if target is not None and depth < 8 and vet_url(target) is None:
        return _normalize(target.strip(), depth + 1)
    u.drop(lambda n: not _is_tracking(n))
    rule = _platform_rule(u.host)
    if rule is not None:
        rule(u)
        u.drop(lambda n: not _is_tracking(n))  # again: a hash-bang route brings a query
        if u.port == _DEFAULT_PORTS[u.scheme]:  # http://x.com:443 became https
            u.port = ""
    elif not u.fragment.startswith(("!", "/")):
        u.fragment = ""
    return u.render()


def normalize_url(url: str) -> str:
    """The canonical form of ``url`` that identifies one Source.

    ``url`` must be an http(s) URL that :func:`~archiver.harvest.urls.vet_url` accepts
    (surrounding whitespace is ignored); anything else raises ValueError with the vetting
    reason, since a mailto: or a relative link has no source identity. Idempotent:
    ``normalize_url(normalize_url(u)) == normalize_url(u)``. See the module docstring for
    the rules.
    """
    reason = vet_url(url)
    if reason is not None:
        raise ValueError(f"not a source URL ({reason}): {url[:200]!r}")
    return _normalize(url.strip(), 0)
