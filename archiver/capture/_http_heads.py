"""Request headers to send, and the request/response heads to store.

The stored request head is what went on the wire (h11 writes Host first, then the
other headers in our order), with the values of credentials replaced: a WARC is handed
to courts and opposing parties, a session cookie in it would be a leak. The response
head keeps the server's header order and spelling (h11 keeps the raw names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import httpx

from archiver.capture.decode import ACCEPT_ENCODING

# What a browser asks for on a navigation: servers that sniff Accept serve the page.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

REDACTED = b"[redacted]"
_SECRET_HEADERS = frozenset({b"cookie", b"authorization", b"proxy-authorization"})

# Hop-by-hop headers (RFC 9110 7.6.1) belong to the browser's own connection, plus
# headers we set ourselves: Host and Content-Length follow from the URL and the body,
# Accept-Encoding is forced so we can decode what we hand back to the browser.
_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})

HeaderPairs = Sequence[tuple[str, str]] | Mapping[str, str]
RawHeaders = list[tuple[bytes, bytes]]


def _encode(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")  # what browsers put on the wire for such values


def request_headers(
    url: httpx.URL,
    method: str,
    given: HeaderPairs | None,
    body: bytes,
    user_agent: str,
) -> RawHeaders:
    """The headers to send, Host first (where h11 writes it anyway).

    Without ``given``: our own request (User-Agent from settings, a browser-like Accept,
    our Accept-Encoding). With ``given`` (a browser's request): its headers in its order,
    hop-by-hop ones dropped, Accept-Encoding forced to what :mod:`decode` can undo."""
    headers: RawHeaders = [(b"Host", url.netloc)]
    if given is None:
        headers += [
            (b"User-Agent", _encode(user_agent)),
            (b"Accept", BROWSER_ACCEPT.encode()),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
    else:
        pairs: Iterable[tuple[str, str]] = given.items() if isinstance(given, Mapping) else given
        encoded = [(_encode(name), _encode(value)) for name, value in pairs]
        named_hop = {
            token.strip().lower()
            for name, value in encoded
            if name.lower() == b"connection"
            for token in value.split(b",")
        }
        have_encoding = have_agent = False
        for name, value in encoded:
            lowered = name.lower()
            if lowered in _DROPPED or lowered in named_hop or lowered.startswith(b":"):
                continue
            if lowered == b"accept-encoding":
                if not have_encoding:
                    headers.append((name, ACCEPT_ENCODING.encode()))
                have_encoding = True
                continue
            have_agent = have_agent or lowered == b"user-agent"
            headers.append((name, value))
        if not have_agent:
            headers.insert(1, (b"User-Agent", _encode(user_agent)))
        if not have_encoding:
            headers.append((b"Accept-Encoding", ACCEPT_ENCODING.encode()))
    if body or method.upper() in _METHODS_WITH_BODY:
        headers.append((b"Content-Length", str(len(body)).encode()))
    return headers


def request_head(method: str, url: httpx.URL, headers: RawHeaders) -> tuple[bytes, tuple[str, ...]]:
    """The request line (origin-form: path and query) and headers as sent, secrets
    redacted; and the names of the redacted headers."""
    lines = [method.encode("ascii") + b" " + (url.raw_path or b"/") + b" HTTP/1.1"]
    redacted: list[str] = []
    for name, value in headers:
        if name.lower() in _SECRET_HEADERS:
            redacted.append(name.decode("latin-1"))
            value = REDACTED
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n", tuple(redacted)


def response_head(
    http_version: bytes, status: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> bytes:
    """Status line and headers as received (names in the server's spelling)."""
    version = http_version if http_version in (b"HTTP/1.0", b"HTTP/1.1") else b"HTTP/1.1"
    lines = [b"%s %d" % (version, status) + (b" " + reason if reason else b"")]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def header_value(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
