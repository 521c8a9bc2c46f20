"""A small HTTP/1.1 client on asyncio streams, for plain ``http://`` exchanges.

httpcore (with h11 and anyio under it) spends, per request, several times the CPU of
the request itself on locks, events, cancel scopes and pool bookkeeping: measured, two
fifths of the archiver's event-loop time in a capture run. A plain-HTTP exchange needs
far less: write a head, read a head, read a framed body. This module does that and
nothing more; TLS, CONNECT tunnels and SOCKS stay with httpcore (``http.Fetcher``
chooses). It raises httpcore's exception types so the fetcher classifies failures the
same way whichever client ran.

What it keeps as received: the status line's version and reason, header names in the
server's spelling and order, and the body with transfer framing removed (chunked
decoded, content coding kept). Framing follows RFC 9112 section 6.3. Connections are
kept alive per (host, port) (through a proxy: per origin too, as the proxy sees one
request at a time per connection) and reused while the server allows.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import httpcore

from archiver.net.backend import ConnectionInfo

RawHeaders = list[tuple[bytes, bytes]]
Origin = tuple[str, int]
Opener = Callable[
    [str, int, float], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter, ConnectionInfo]]
]

# The largest response head accepted (as through httpcore/h11), and the stream reader's
# limit: it stops reading from the socket while twice this waits unread, which bounds
# the memory of a connection whose body arrives faster than it is stored.
HEAD_LIMIT = 100 * 1024
_READ_SIZE = 1024 * 1024
_STATUS_LINE = re.compile(rb"HTTP/(1\.[01]) ([0-9]{3})(?: (.*))?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NO_BODY_STATUS = frozenset({204, 304})
CLOSED_MID_BODY = "peer closed connection without sending complete message body"


@dataclass(frozen=True)
class ResponseHead:
    version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    status: int
    reason: bytes
    headers: RawHeaders


class Connection:
    """One connection. ``reusable`` is True only after a response on it ended where its
    framing said and the server did not ask to close: anything else (a cut body, a
    timeout, a head whose body was not read) closes it on release."""

    __slots__ = ("created", "idle_since", "info", "new", "origin", "reader", "reusable", "writer")

    def __init__(
        self,
        origin: Origin,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: ConnectionInfo,
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.info = info
        self.reusable = False  # until a response on it ends cleanly
        self.new = True
        self.created = self.idle_since = time.monotonic()

    def alive(self) -> bool:
        """Idle and still open: the server has neither closed it nor sent anything."""
        reader = self.reader
        return not (
            self.writer.transport.is_closing()
            or reader.at_eof()
            or reader.exception() is not None
            or len(getattr(reader, "_buffer", b""))
        )

    def close(self) -> None:
        self.reusable = False
        self.writer.transport.abort()

    async def send(self, data: bytes, timeout: float) -> None:
        try:
            self.writer.write(data)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError as exc:
            self.close()
            raise httpcore.WriteTimeout("sending the request timed out") from exc
        except OSError as exc:
            self.close()
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def read_head(self, timeout: float) -> ResponseHead:
        """The next final (non-1xx) response head."""
        while True:
            try:
                async with asyncio.timeout(timeout):
                    raw = await self.reader.readuntil(b"\r\n\r\n")
            except TimeoutError as exc:
                self.close()
                raise httpcore.ReadTimeout("no response head in time") from exc
            except asyncio.IncompleteReadError as exc:
                self.close()
                if not exc.partial:
                    raise httpcore.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    ) from exc
                raise httpcore.RemoteProtocolError(
                    "peer closed connection in the middle of the response head"
                ) from exc
            except asyncio.LimitOverrunError as exc:
                self.close()
                raise httpcore.RemoteProtocolError(
                    f"response head larger than {HEAD_LIMIT} bytes"
                ) from exc
            except OSError as exc:
                self.close()
                raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc
            head = parse_head(raw)
            if head.status >= 200 or head.status == 101:
                return head

    async def body(
        self, head: ResponseHead, method: str, timeout: float
    ) -> AsyncGenerator[bytes, None]:
        """The body's pieces, transfer framing removed. Marks the connection reusable
        only when the body ended where its framing said."""
        framing, length = body_framing(head, method)
        if framing == "none":
            self.reusable = keep_alive(head)
            return
        if framing == "length":
            remaining = length
            while remaining:
                piece = await self._read(min(remaining, _READ_SIZE), timeout)
                if not piece:
                    raise httpcore.RemoteProtocolError(CLOSED_MID_BODY)
                remaining -= len(piece)
                yield piece
            self.reusable = keep_alive(head)
            return
        if framing == "close":
            while piece := await self._read(_READ_SIZE, timeout):
                yield piece
            return
        async for piece in self._chunks(timeout):
            yield piece
        self.reusable = keep_alive(head)

    async def _chunks(self, timeout: float) -> AsyncGenerator[bytes, None]:
        while True:
            line = await self._line(timeout)
            size_text = line.split(b";", 1)[0].strip()
            try:
                if not size_text or len(size_text) > 16:
                    raise ValueError
                size = int(size_text, 16)
                if size < 0:
                    raise ValueError
            except ValueError:
                raise httpcore.RemoteProtocolError(f"malformed chunk size {line[:40]!r}") from None
            if size == 0:
                while await self._line(timeout):  # trailers, up to the blank line
                    pass
                return
            while size:
                piece = await self._read(min(size, _READ_SIZE), timeout)
                if not piece:
                    raise httpcore.RemoteProtocolError(CLOSED_MID_BODY)
                size -= len(piece)
                yield piece
            if await self._line(timeout):
                raise httpcore.RemoteProtocolError("chunk data not followed by CRLF")

    async def _read(self, size: int, timeout: float) -> bytes:
        reader = self.reader
        if len(getattr(reader, "_buffer", b"")):
            return await reader.read(size)  # already here: no timer needed
        try:
            async with asyncio.timeout(timeout):
                return await reader.read(size)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("no data in time") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def _line(self, timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                line = await self.reader.readuntil(b"\n")
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("no data in time") from exc
        except asyncio.IncompleteReadError as exc:
            raise httpcore.RemoteProtocolError(CLOSED_MID_BODY) from exc
        except asyncio.LimitOverrunError as exc:
            raise httpcore.RemoteProtocolError("chunk line too long") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc
        return line.rstrip(b"\r\n")


def parse_head(raw: bytes) -> ResponseHead:
    """Status line and header fields of a head ending in CRLF CRLF (obsolete line
    folding joined with a space, as h11 does)."""
    lines = raw[:-4].split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise httpcore.RemoteProtocolError(f"malformed status line {lines[0][:80]!r}")
    headers: RawHeaders = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise httpcore.RemoteProtocolError("continuation line before any header")
            name, value = headers[-1]
            headers[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise httpcore.RemoteProtocolError(f"malformed header line {line[:80]!r}")
        headers.append((name, value.strip(b" \t")))
    return ResponseHead(
        b"HTTP/" + match.group(1), int(match.group(2)), match.group(3) or b"", headers
    )


def _values(headers: RawHeaders, name: bytes) -> list[bytes]:
    return [
        item.strip().lower()
        for key, value in headers
        if key.lower() == name
        for item in value.split(b",")
        if item.strip()
    ]


def body_framing(head: ResponseHead, method: str) -> tuple[str, int]:
    """("none"|"length"|"chunked"|"close", content length) per RFC 9112 6.3."""
    if method == "HEAD" or head.status < 200 or head.status in _NO_BODY_STATUS:
        return "none", 0
    codings = _values(head.headers, b"transfer-encoding")
    if codings:
        return ("chunked", 0) if codings[-1] == b"chunked" else ("close", 0)
    lengths = set(_values(head.headers, b"content-length"))
    if not lengths:
        return "close", 0
    if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
        raise httpcore.RemoteProtocolError(f"invalid Content-Length {sorted(lengths)!r}")
    length = int(lengths.pop())
    return ("length", length) if length else ("none", 0)


def keep_alive(head: ResponseHead) -> bool:
    tokens = _values(head.headers, b"connection")
    if head.version == b"HTTP/1.0":
        return b"keep-alive" in tokens
    return b"close" not in tokens


class ConnectionPool:
    """Idle connections per origin, at most ``per_origin`` each, dropped after
    ``idle_expiry`` seconds; at most ``max_idle_origins`` origins keep any."""

    def __init__(
        self,
        opener: Opener,
        *,
        per_origin: int,
        max_idle_origins: int = 256,
        idle_expiry: float = 15.0,
    ) -> None:
        self._open = opener
        self._per_origin = per_origin
        self._max_idle_origins = max_idle_origins
        self._idle_expiry = idle_expiry
        # Insertion order = least recently released first, for eviction.
        self._idle: dict[Origin, list[Connection]] = {}

    async def acquire(self, origin: Origin, timeout: float) -> Connection:
        idle = self._idle.get(origin)
        expired = time.monotonic() - self._idle_expiry
        while idle:
            conn = idle.pop()
            if conn.idle_since > expired and conn.alive():
                conn.new = False
                conn.reusable = False  # until a response on it ends cleanly
                return conn
            conn.close()
        reader, writer, info = await self._open(origin[0], origin[1], timeout)
        return Connection(origin, reader, writer, info)

    def release(self, conn: Connection) -> None:
        if not conn.reusable or not conn.alive():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle = self._idle.pop(conn.origin, None) or []
        self._idle[conn.origin] = idle  # now the most recently used origin
        if len(idle) >= self._per_origin:
            conn.close()
            return
        idle.append(conn)
        while len(self._idle) > self._max_idle_origins:
            oldest = next(iter(self._idle))
            for stale in self._idle.pop(oldest):
                stale.close()

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
