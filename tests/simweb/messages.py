"""HTTP/1.1 message pieces: headers, the request handed to handlers, and wire encoding.

Written by hand rather than borrowed from h11 or http.server because the simulated web must be
able to misbehave on purpose (stall after the head, cut a body short, lie about framing) and
a strict protocol library would refuse to do that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import urlsplit

# Headers that describe the framing of one connection; the server sets them itself, so a test
# cannot accidentally break keep-alive by copying them from a recorded response.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length"}
)


class BadRequest(Exception):
    """The client sent something that is not an HTTP/1.x request; answered with 400."""


class Headers:
    """An ordered header list with case-insensitive lookup.

    Keeps duplicates (several ``Set-Cookie``) and the original spelling of names, because the
    archiver records headers into WARC files verbatim."""

    def __init__(self, items: HeaderInput = None) -> None:
        self._items: list[tuple[str, str]] = []
        if items is None:
            return
        pairs = items.items() if isinstance(items, Headers | Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._items.append((str(name), str(value)))

    def set(self, name: str, value: str) -> None:
        """Replace every header called ``name`` by one with ``value``."""
        self.remove(name)
        self.add(name, value)

    def setdefault(self, name: str, value: str) -> None:
        if name not in self:
            self.add(name, value)

    def remove(self, name: str) -> None:
        lowered = name.lower()
        self._items = [(n, v) for n, v in self._items if n.lower() != lowered]

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for item_name, value in self._items:
            if item_name.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for item_name, value in self._items if item_name.lower() == lowered]

    def tokens(self, name: str) -> frozenset[str]:
        """Comma-separated tokens of every ``name`` header, lower-cased (``Connection``)."""
        return frozenset(
            token.strip().lower()
            for value in self.get_all(name)
            for token in value.split(",")
            if token.strip()
        )

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def copy(self) -> Headers:
        return Headers(self._items)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


HeaderInput = Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None


@dataclass(frozen=True)
class Request:
    """One request as the simulated origin server sees it.

    ``url`` is absolute and normalised (see :func:`tests.simweb.urls.normalize_url`), with the
    scheme the client really used: ``https`` for requests that came through a CONNECT tunnel."""

    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    http_version: str = "HTTP/1.1"
    client: tuple[str, int] | None = None
    received_at: datetime | None = None

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    @property
    def target(self) -> str:
        """Path plus query, as in an origin-form request line."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


class LoggedRequest(NamedTuple):
    """An entry of ``SimulatedWeb.requests``: unpacks as ``method, url, headers``."""

    method: str
    url: str
    headers: Headers


@dataclass(frozen=True)
class RequestHead:
    """The parsed request line and header block, before the target is resolved to a URL."""

    method: str
    target: str
    version: str
    headers: Headers

    @property
    def wants_keep_alive(self) -> bool:
        """HTTP/1.1 persists unless told to close; HTTP/1.0 only when asked to keep alive.
        Browsers talking to a proxy send ``Proxy-Connection`` instead of ``Connection``."""
        tokens = self.headers.tokens("connection") | self.headers.tokens("proxy-connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def parse_head(data: bytes) -> RequestHead:
    """Parse a request head ending in an empty line. Tolerates bare LF line ends and the
    empty lines RFC 9112 lets clients send before a request."""
    text = data.decode("latin-1").replace("\r\n", "\n").lstrip("\n")
    lines = text.split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line {lines[0]!r}")
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise BadRequest(f"malformed method {method!r}")
    headers = Headers()
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise BadRequest("obsolete header line folding")
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(f"malformed header line {line!r}")
        headers.add(name, value.strip(" \t"))
    return RequestHead(method, target, version, headers)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def status_has_body(status: int, method: str) -> bool:
    """RFC 9110: no content for HEAD, 1xx, 204 and 304."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


def encode_head(
    status: int,
    headers: Headers,
    *,
    date: datetime | None = None,
    version: str = "HTTP/1.1",
) -> bytes:
    """The status line and header block, with a ``Date`` header unless one is given."""
    lines = [f"{version} {status} {reason_phrase(status)}"]
    if date is not None and "date" not in headers:
        lines.append(f"Date: {format_datetime(date, usegmt=True)}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body (never the terminating chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"
