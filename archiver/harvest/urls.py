"""Finding URLs in running text, URL hygiene and vetting. Pure functions, no I/O.

Reports are written by people and extracted by tools (PDF text, Word, Markdown), so a
URL in running text is rarely delimited cleanly: it ends a sentence, sits in brackets,
is glued to a footnote marker ("...html[12]"), or follows a marker without a space
("[12]https://..."). The rules here decide where such a URL ends. They never decode,
re-encode or otherwise rewrite what was written: ``find_urls`` returns a slice of the
input. Deciding what a URL *means* is :mod:`archiver.harvest.normalize`'s job.

Public API:

- :func:`find_urls` -- every http(s) URL in running text, as written.
- :func:`clean_url` -- the same end-of-URL trimming for one token of running text.
- :func:`clean_href` -- the much lighter cleaning that suits markup attributes.
- :func:`vet_url` -- whether a link is kept, or the reason it is skipped.
- :func:`find_skipped_links` -- non-http links (mailto:, tel:, ...) in running text.
- :func:`join_wrapped_url` -- rejoin a URL that PDF text wrapped over two lines.
- :func:`host_to_ascii` -- the ASCII (punycode) form of a host, or None.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from urllib.parse import urlsplit

import idna

from archiver.harvest.model import SkippedLink, UrlMatch

MAX_URL_LENGTH = 8192
"""Longer links are skipped as "too-long": no real citation is that long, and such
strings are usually data: payloads or tracking blobs that would bloat the database."""

# Characters that never belong to a URL written in running text. Whitespace (\s covers
# Unicode spaces such as NBSP), markup delimiters, typographic quotes and the ellipsis
# (a raw one means the URL was shortened for display), full-width CJK punctuation,
# superscript footnote digits, zero-width characters, the soft hyphen and C0 controls.
_STOP = (
    r"\s<>\"`«»“”„‹›…"
    r"。，、；：！？（）【】《》「」『』"
    r"¹²³⁴⁵⁶⁷⁸⁹⁰"
    r"\u200b-\u200d\u2060\ufeff\u00ad\x00-\x1f\x7f"
)
_RUN_RE = re.compile(f"[^{_STOP}]*")
_HTTP_RE = re.compile(r"https?://", re.IGNORECASE)

# Cut points inside a run of URL characters, searched after "scheme://" in one pass (the
# earliest wins, so the cost is the distance to the cut, not the length of the run):
# - glued: a second URL glued on after punctuation ("a.kz/x,https://b.kz"); cut after the
#   punctuation, which tail trimming then removes. "/https://" is no cut point, so Wayback
#   Machine URLs (web.archive.org/web/2020/https://x.kz/) stay whole.
# - md: Markdown "[text](url)": the link text ends at "](".
# - marker: footnote markers glued to the URL ("...html[12]", "...html[12][13]"). A
#   bracketed number followed by "=" or "[" is a PHP-style array ("__cft__[0]=...").
#   Bounded repetition keeps backtracking linear on hostile input.
# - quote: an apostrophe is kept inside a word ("O'Brien") but ends the URL before
#   anything else, e.g. 'https://a.kz/x','https://b.kz' in quoted lists.
_CUT_RE = re.compile(
    r"(?P<glued>[,;.)\]}'’|])(?=https?://)"
    r"|(?P<md>\])\("
    r"|(?P<marker>(?:\[\d{1,4}\]){1,8}(?![=\[]))"
    r"|(?P<quote>['’‘])(?![\w%-])",
    re.IGNORECASE,
)

# Sentence punctuation that is not part of a URL at its very end.
_TRAILING = frozenset(".,;:!?'\"«»“”‘’„…*")
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENING_WRAPPERS = "<([{\"'«“‘„‹"
_EXTRA_SPACE = "\u200b\u200c\u200d\u2060\ufeff"


def _run_end(text: str, start: int) -> int:
    """End of the run of characters that can belong to a URL, starting at ``start``."""
    run = _RUN_RE.match(text, start)
    return run.end() if run is not None else start


def _cut(text: str, body: int, run_end: int) -> int:
    """End of the URL candidate whose part after "scheme://" starts at ``body``."""
    m = _CUT_RE.search(text, body, run_end)
    if m is None:
        return run_end
    return m.end("glued") if m.group("glued") else m.end("md") if m.group("md") else m.start()


def _trim_tail(text: str, start: int, end: int, keep: int) -> int:
    """Drop sentence punctuation and unbalanced closing brackets from the end.

    Never trims below ``keep`` (the end of "https://"). A closing bracket is kept when
    the URL itself opened it: https://en.wikipedia.org/wiki/Foo_(bar) keeps its ")".
    """
    surplus: dict[str, int] | None = None  # closers minus openers, counted once
    while end > keep:
        last = text[end - 1]
        if last in _TRAILING:
            end -= 1
            continue
        if last not in _CLOSERS:
            break
        if surplus is None:
            surplus = {
                c: text.count(c, start, end) - text.count(o, start, end)
                for c, o in _CLOSERS.items()
            }
        if surplus[last] <= 0:
            break
        surplus[last] -= 1
        end -= 1
    return end


def _url_end(text: str, start: int, body: int, run_end: int | None = None) -> int:
    if run_end is None:
        run_end = _run_end(text, start)
    return _trim_tail(text, start, _cut(text, body, run_end), body)


def find_urls(text: str) -> list[UrlMatch]:
    """Every http(s) URL in ``text``, in order, exactly as written.

    ``text[m.start:m.end] == m.url`` holds for each match. The scheme is matched without
    regard to case and need not follow a space ("[12]https://..." is found). A URL ends
    at whitespace, at < > " or a backtick, at typographic quotes, before a footnote marker
    glued to it, and before trailing sentence punctuation or an unbalanced closing
    bracket. Percent-escapes and non-ASCII characters are returned untouched. A URL that
    appears inside another one (?u=https://...) belongs to the outer URL. In
    ``[https://a](https://a)`` both occurrences are returned.
    """
    found: list[UrlMatch] = []
    pos = run_end = 0
    while True:
        m = _HTTP_RE.search(text, pos)
        if m is None:
            return found
        if m.start() >= run_end:  # else still inside the run measured last time
            run_end = _run_end(text, m.start())
        end = _url_end(text, m.start(), m.end(), run_end)
        if end > m.end():
            found.append(UrlMatch(m.start(), end, text[m.start() : end]))
            pos = end
        else:
            pos = m.end()


def clean_url(raw: str) -> str:
    """Trim one token of running text down to the URL it starts with.

    Strips surrounding whitespace and opening wrappers ("(", "<", quotes), then applies
    exactly the end-of-URL rules of :func:`find_urls`, so ``clean_url("<https://x.kz/a>.")``
    is ``"https://x.kz/a"``. A token without a scheme is trimmed the same way ("www.x.kz/a."
    gives "www.x.kz/a"); whether it is a URL at all is :func:`vet_url`'s call. Meant for text; for
    attribute values (href, PDF /URI, DOCX hyperlinks), whose ends are unambiguous and
    may legitimately end in "." or ")", use :func:`clean_href` instead.
    """
    s = raw.strip().strip(_EXTRA_SPACE).lstrip(_OPENING_WRAPPERS)
    m = _HTTP_RE.match(s)
    body = m.end() if m else 0
    return s[: _url_end(s, 0, body)]


def clean_href(raw: str) -> str:
    """Clean a URL taken from markup: only what browsers remove themselves.

    Leading and trailing whitespace, control and zero-width characters go, and so do tabs
    and newlines anywhere (the WHATWG URL parser drops them: they come from line-wrapped
    attributes). Punctuation is kept: in an href, a final "." or ")" is part of the link.
    """
    s = raw.strip().strip(_EXTRA_SPACE + "\x00\x7f").strip()
    return re.sub(r"[\t\n\r]", "", s)


# --- vetting -------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]{0,63}):")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_HOST_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})*")


def _valid_ascii_host(host: str) -> bool:
    return len(host) <= 253 and _ASCII_HOST_RE.fullmatch(host) is not None


def host_to_ascii(host: str) -> str | None:
    """The lower-case ASCII form of a host name, or None when it is not a valid name.

    IDN hosts are converted with the ``idna`` package (IDNA 2008 with UTS #46 mapping,
    so "ПРИМЕР.ҚАЗ" and "пример.қаз" agree); names it rejects but browsers accept (an
    underscore, a symbol allowed by IDNA 2003) fall back to Python's "idna" codec. A
    trailing dot is kept; IPv6 literals are not host names and return None here.
    """
    dot = host.endswith(".")
    name = host[:-1] if dot else host
    if not name:
        return None
    if name.isascii():
        ascii_name = name.lower()
    else:
        try:
            ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                ascii_name = name.encode("idna").decode("ascii").lower()
            except (UnicodeError, ValueError):
                return None
    if not _valid_ascii_host(ascii_name):
        return None
    return ascii_name + "." if dot else ascii_name


def _split_hostport(hostport: str) -> tuple[str, str] | None:
    """(host, port) of the part of a netloc after any userinfo; None when malformed."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return None
        host, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            return None
        return host, rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def vet_url(url: str) -> str | None:
    """None when ``url`` is an acceptable absolute http(s) URL, else the reason to skip it.

    Reasons: "scheme:<name>" (mailto, javascript, data, tel, ftp, ...), "relative" (no
    scheme: callers resolve relative hrefs against the page URL first), "no-host",
    "invalid" (malformed authority, bad port, control characters, a host that is no valid
    name or address), "too-long" (over :data:`MAX_URL_LENGTH` characters). Surrounding
    whitespace is ignored. Never raises.
    """
    s = url.strip()
    m = _SCHEME_RE.match(s)
    if m is None:
        return "relative"
    scheme = m.group(1).lower()
    if scheme not in ("http", "https"):
        return f"scheme:{scheme}"
    if len(s) > MAX_URL_LENGTH:
        return "too-long"
    if not s[m.end() :].startswith("//") or _CONTROL_RE.search(s):
        return "invalid"
    try:
        netloc = urlsplit(s).netloc
    except ValueError:  # unbalanced IPv6 brackets, NFKC tricks in the authority
        return "invalid"
    split = _split_hostport(netloc.rpartition("@")[2])
    if split is None:
        return "invalid"
    host, port = split
    if not host or host == ".":
        return "no-host"
    if port and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        return "invalid"
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "invalid"
        return None
    return None if host_to_ascii(host) is not None else "invalid"


# --- skipped (non-http) links in running text ----------------------------------------

# Only schemes that people actually write as links. Each needs a plausible body, so that
# labels ("Tel: +7 727 ...", "Data: 2022") and words ("metadata:") are not counted.
_SKIP_RE = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?:"
    r"(?P<mail>mailto):(?=[^\s@]{0,256}@|\?)"
    r"|(?P<phone>tel|sms|callto):(?=\+?[\d(])"
    r"|(?P<js>javascript):(?=\S)"
    r"|(?P<data>data):(?=[a-z]+/[a-z0-9.+\-]+[;,]|,)"
    r"|(?P<slashed>ftp|ftps|sftp|file|tg|viber|whatsapp)://"
    r")",
    re.IGNORECASE,
)
_SKIPPED_DATA_KEEP = 80


def find_skipped_links(text: str) -> list[SkippedLink]:
    """Non-http links written in running text, each with its reason ("scheme:mailto").

    Counts mailto:, tel:, sms:, callto:, javascript:, data:, ftp(s)://, sftp://, file://,
    tg://, viber:// and whatsapp:// links so a harvest summary can say what was left out.
    A plain e-mail address is not a link and is ignored, as are links inside an http URL
    (?next=mailto:...). tel:/sms: need digits and lower-case letters ("Tel: +7" is a label).
    data: URIs are shortened to their first 80 characters plus "…". http(s) URLs that
    fail :func:`vet_url` are the caller's to report, since it vets what it keeps anyway.
    """
    urls = find_urls(text)
    starts = [u.start for u in urls]
    skipped: list[SkippedLink] = []
    pos = run_end = 0
    while True:
        m = _SKIP_RE.search(text, pos)
        if m is None:
            return skipped
        start = m.start()
        inside = bisect.bisect_right(starts, start) - 1
        if inside >= 0 and start < urls[inside].end:
            pos = urls[inside].end
            continue
        if m.group("phone") and not m.group(0).islower():
            pos = m.end()
            continue
        if start >= run_end:
            run_end = _run_end(text, start)
        end = _url_end(text, start, m.end(), run_end)
        if end <= m.end():
            pos = m.end()
            continue
        link = text[start:end]
        if m.group("phone") and sum(ch.isdigit() for ch in link) < 5:
            pos = end
            continue
        scheme = m.group(0).split(":", 1)[0].lower()
        if scheme == "data" and len(link) > _SKIPPED_DATA_KEEP:
            link = link[:_SKIPPED_DATA_KEEP] + "…"
        skipped.append(SkippedLink(url=link, reason=f"scheme:{scheme}"))
        pos = end


# --- URLs wrapped across lines (PDF text) ---------------------------------------------

# The continuation must look like the rest of a URL, not like a word of prose.
_STRUCTURAL_RE = re.compile(r"[/=&?%_#]|\d\.[A-Za-z0-9]{2,5}$|\.(?:s?html?|php|aspx?|jsp|pdf)$")
_URL_START_RE = re.compile(r"[\w%/\-~.?=&#+]")


def join_wrapped_url(first_line_tail: str, next_line_head: str) -> str | None:
    """Join a URL broken across two lines of extracted text, or None when unsure.

    ``first_line_tail`` is the end of a line (only its last token matters) and
    ``next_line_head`` the start of the following line. Joins only unambiguous breaks:
    the line ends in a URL with no sentence punctuation after it, and the next line
    starts, without a space, with a token that looks like the rest of a URL (it contains
    "/", "=", "&", "?", "%", "_", "#" or ends like a file name such as "64219.html").
    A word, a year or a page number is prose, not a continuation (PDF page numbers!).

    ``("https://rus.azattyq.org/a/320", "64219.html")`` gives
    "https://rus.azattyq.org/a/32064219.html"; a next line starting with a word, a new URL
    or a footnote marker gives None. The result is the joined URL as written; the caller
    consumes ``len(result) - len(url on the first line)`` characters of the next line.
    """
    line = first_line_tail.rstrip("\r\n")
    if not line or line[-1].isspace() or not next_line_head:
        return None
    token = line.split()[-1]
    m = _HTTP_RE.search(token)
    if m is None:
        return None
    first = token[m.start() :]
    if _url_end(token, m.start(), m.end()) != len(token):
        return None  # the line ends in punctuation or a cut point: the URL is complete
    if not _URL_START_RE.match(next_line_head) or next_line_head.startswith(("[", "-")):
        return None
    if _HTTP_RE.match(next_line_head) or re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", next_line_head):
        return None
    raw = next_line_head.split(maxsplit=1)[0]
    rest_end = _url_end(raw, 0, 0)
    cont = raw[:rest_end]
    if not cont:
        return None
    # Broken right after "https://", the rest must hold a host name; otherwise it must look
    # like the rest of a URL: a plain word, a year or a page number is prose.
    after_scheme = m.end() == len(token)
    if not ("." in cont if after_scheme else _STRUCTURAL_RE.search(cont) is not None):
        return None
    joined = first + cont
    return joined if clean_url(joined) == joined else None


# What a browser percent-encodes in a path or query it sends (spaces, controls, non-ASCII,
# quotes, angle brackets): everything else, existing escapes included, is sent as written.
_UNSAFE = re.compile(r"[^\x21-\x7e]|[\"<>\\^`{|}]")


def as_requested(url: str) -> str:
    """The URL as a browser would request it when a reader follows the citation: the
    host in ASCII (IDN to punycode, lower case), spaces, non-ASCII and a few unsafe
    characters percent-encoded as UTF-8, the fragment dropped (it is never sent).
    Nothing else changes: not the scheme's host alias (m. stays m.), not a trailing
    slash, not the query (tracking parameters included). The cited URL is the evidence;
    normalization only decides which citations share a source."""
    try:
        parts = urlsplit(url.strip())
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # vetted at harvest already; keep what was written
        return url
    host = parts.hostname or ""
    ascii_host = host if host.startswith("[") or ":" in host else host_to_ascii(host)
    netloc = parts.netloc
    if ascii_host is not None and host:
        userinfo = netloc.rpartition("@")[0]
        shown = f"[{host}]" if ":" in host else ascii_host
        netloc = (f"{userinfo}@" if userinfo else "") + shown + port
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    rest = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode("utf-8")), rest)
    return f"{parts.scheme.lower()}://{netloc}{rest or '/'}"
