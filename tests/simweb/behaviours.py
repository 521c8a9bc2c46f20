"""What a URL does when asked: a normal response, or one of the ways real servers fail.

Every failure an archiver meets in the field has a behaviour here, so capture and re-check
code can be tested against it deterministically: servers that never answer, stall after the
headers, reset mid-body, stream forever, trickle, bomb the decompressor, or rate-limit.
Each behaviour is a plain object; build them with the lower-case factory functions
(``hang()``, ``reset_mid_body(...)``) and register them with ``SimulatedWeb.page``.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import struct
import zlib
from typing import Literal

from tests.simweb.exchange import Exchange
from tests.simweb.messages import LAST_CHUNK, HeaderInput, Headers, encode_chunk

Framing = Literal["length", "chunked", "close"]

HTML = "text/html; charset=utf-8"


class Behaviour(abc.ABC):
    """Answers one request on an :class:`Exchange`."""

    @abc.abstractmethod
    async def serve(self, exchange: Exchange) -> bool:
        """Answer the request; return True if the connection may carry another request."""


def _headers(headers: HeaderInput, content_type: str | None) -> Headers:
    out = Headers(headers)
    if content_type is not None:
        out.setdefault("Content-Type", content_type)
    return out


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


class Response(Behaviour):
    """A well-formed response. The body is sent byte for byte as given (the archiver hashes
    what it receives). ``framing`` picks Content-Length (default), chunked transfer coding,
    or a body delimited by closing the connection (HTTP/1.0 style)."""

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: HeaderInput = None,
        *,
        content_type: str | None = HTML,
        framing: Framing = "length",
    ) -> None:
        self.status = status
        self.body = _bytes(body)
        self.headers = _headers(headers, content_type)
        self.framing: Framing = framing

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes, {self.framing})"

    async def serve(self, exchange: Exchange) -> bool:
        status, body = self.status, self.body
        if status < 200 or status in (204, 304):
            exchange.write(exchange.head(status, self.headers))
            await exchange.writer.drain()
            return exchange.keep_alive
        if self.framing == "length":
            head = exchange.head(status, self.headers, length=len(body))
            await exchange.send(head if exchange.is_head else head + body)
            return exchange.keep_alive
        if self.framing == "chunked":
            head = exchange.head(status, self.headers, chunked=True)
            payload = b"" if exchange.is_head else encode_chunk(body) + LAST_CHUNK
            await exchange.send(head + payload)
            return exchange.keep_alive
        head = exchange.head(status, self.headers, close=True)
        await exchange.send(head if exchange.is_head else head + body)
        return False


class Delayed(Behaviour):
    """Another behaviour, answered after ``seconds`` (per-URL latency, on top of the host's)."""

    def __init__(self, seconds: float, inner: Behaviour) -> None:
        self.seconds = seconds
        self.inner = inner

    async def serve(self, exchange: Exchange) -> bool:
        await asyncio.sleep(self.seconds)
        return await self.inner.serve(exchange)


class Hang(Behaviour):
    """Accept the request and never answer; the connection is held until the client gives
    up (its timeout) or the simulated web shuts down."""

    async def serve(self, exchange: Exchange) -> bool:
        await exchange.wait_until_client_leaves()
        return False


class HeadersThenStall(Behaviour):
    """Send a complete response head promising ``content_length`` bytes, then nothing: the
    client's read timeout (not its connect timeout) must fire."""

    def __init__(
        self,
        status: int = 200,
        headers: HeaderInput = None,
        *,
        content_length: int = 100_000,
        content_type: str | None = HTML,
        first_bytes: bytes = b"",
    ) -> None:
        self.status = status
        self.headers = _headers(headers, content_type)
        self.content_length = content_length
        self.first_bytes = first_bytes

    async def serve(self, exchange: Exchange) -> bool:
        head = exchange.head(self.status, self.headers, length=self.content_length)
        await exchange.send(head + (b"" if exchange.is_head else self.first_bytes))
        await exchange.wait_until_client_leaves()
        return False


class ResetMidBody(Behaviour):
    """Promise the whole body, send the first ``after`` bytes, then drop the connection.

    With ``rst=True`` (default) the drop is a TCP reset (clients see ECONNRESET, a read
    error); with ``rst=False`` it is an orderly close, i.e. a truncated body (clients see an
    incomplete-read / protocol error)."""

    def __init__(
        self,
        body: bytes | str,
        *,
        after: int | None = None,
        rst: bool = True,
        status: int = 200,
        headers: HeaderInput = None,
        content_type: str | None = HTML,
    ) -> None:
        self.body = _bytes(body)
        self.after = len(self.body) // 2 if after is None else after
        self.rst = rst
        self.status = status
        self.headers = _headers(headers, content_type)

    async def serve(self, exchange: Exchange) -> bool:
        head = exchange.head(self.status, self.headers, length=len(self.body))
        await exchange.send(head + (b"" if exchange.is_head else self.body[: self.after]))
        if exchange.is_head:
            return exchange.keep_alive
        await exchange.flush_to_peer()
        if self.rst:
            exchange.reset()
        else:
            exchange.writer.close()
        return False


class EndlessBody(Behaviour):
    """Stream bytes forever (chunked, or close-delimited with ``framing="close"``) until the
    client goes away: tests the archiver's size limits."""

    def __init__(
        self,
        *,
        framing: Literal["chunked", "close"] = "chunked",
        chunk: bytes = b"endless body " * 5041,  # ~64 KiB per write
        content_type: str | None = HTML,
        headers: HeaderInput = None,
    ) -> None:
        self.framing = framing
        self.chunk = chunk
        self.headers = _headers(headers, content_type)

    async def serve(self, exchange: Exchange) -> bool:
        chunked = self.framing == "chunked"
        await exchange.send(exchange.head(200, self.headers, chunked=chunked, close=not chunked))
        if exchange.is_head:
            return chunked and exchange.keep_alive
        piece = encode_chunk(self.chunk) if chunked else self.chunk
        while True:
            await exchange.stream(piece)


class SlowBody(Behaviour):
    """A correct response whose body trickles at ``bytes_per_second`` (a slow or throttled
    site): tests total-time limits as opposed to idle read timeouts."""

    def __init__(
        self,
        body: bytes | str,
        bytes_per_second: float,
        *,
        status: int = 200,
        headers: HeaderInput = None,
        content_type: str | None = HTML,
        tick: float = 0.05,
    ) -> None:
        if bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive")
        self.body = _bytes(body)
        self.bytes_per_second = bytes_per_second
        self.status = status
        self.headers = _headers(headers, content_type)
        self.tick = tick

    async def serve(self, exchange: Exchange) -> bool:
        await exchange.send(exchange.head(self.status, self.headers, length=len(self.body)))
        if exchange.is_head:
            return exchange.keep_alive
        step = max(1, int(self.bytes_per_second * self.tick))
        for start in range(0, len(self.body), step):
            piece = self.body[start : start + step]
            await exchange.stream(piece)
            await asyncio.sleep(len(piece) / self.bytes_per_second)
        return exchange.keep_alive


class GzipBomb(Behaviour):
    """``Content-Encoding: gzip`` whose small body inflates to ``inflated_size`` zero bytes
    (1 GiB by default, about 1 MB on the wire): tests decompression limits."""

    def __init__(
        self,
        inflated_size: int = 1 << 30,
        *,
        content_type: str | None = HTML,
        headers: HeaderInput = None,
    ) -> None:
        self.inflated_size = inflated_size
        self.headers = _headers(headers, content_type)
        self.headers.set("Content-Encoding", "gzip")

    @property
    def body(self) -> bytes:
        return gzip_zeros(self.inflated_size)

    async def serve(self, exchange: Exchange) -> bool:
        body = self.body
        head = exchange.head(200, self.headers, length=len(body))
        await exchange.send(head if exchange.is_head else head + body)
        return exchange.keep_alive


_BLOCK = 1 << 20


@functools.lru_cache(maxsize=4)
def gzip_zeros(size: int) -> bytes:
    """A gzip member holding ``size`` zero bytes, built without compressing them all.

    After ``Z_FULL_FLUSH`` deflate keeps no history, so every 1 MiB block of zeros
    compresses to the same bytes: compress one block and repeat it. The CRC is still computed
    over the real data so that strict decoders accept the trailer."""
    blocks, tail = divmod(size, _BLOCK)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"]
    zeros = bytes(_BLOCK)
    crc = 0
    if blocks:
        block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
        parts.append(block * blocks)
        for _ in range(blocks):
            crc = zlib.crc32(zeros, crc)
    parts.append(deflate.compress(bytes(tail)) + deflate.flush(zlib.Z_FINISH))
    crc = zlib.crc32(bytes(tail), crc)
    parts.append(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return b"".join(parts)


# Factories: the spelling tests use.


def response(
    body: bytes | str = b"",
    status: int = 200,
    headers: HeaderInput = None,
    *,
    content_type: str | None = HTML,
    framing: Framing = "length",
) -> Response:
    return Response(status, body, headers, content_type=content_type, framing=framing)


def status(
    code: int,
    headers: HeaderInput = None,
    body: bytes | str = b"",
    *,
    content_type: str | None = HTML,
) -> Response:
    """Any status, e.g. ``status(429, headers={"Retry-After": "120"})``."""
    return Response(code, body, headers, content_type=content_type)


def redirect(to: str, status: int = 301, headers: HeaderInput = None) -> Response:
    out = Headers(headers)
    out.set("Location", to)
    return Response(status, b"", out)


def hang() -> Hang:
    return Hang()


def headers_then_stall(
    status: int = 200, headers: HeaderInput = None, *, content_length: int = 100_000
) -> HeadersThenStall:
    return HeadersThenStall(status, headers, content_length=content_length)


def reset_mid_body(
    body: bytes | str = b"<html>" + b"x" * 100_000 + b"</html>",
    *,
    after: int | None = None,
    rst: bool = True,
) -> ResetMidBody:
    return ResetMidBody(body, after=after, rst=rst)


def endless_body(framing: Literal["chunked", "close"] = "chunked") -> EndlessBody:
    return EndlessBody(framing=framing)


def slow_body(body: bytes | str, bytes_per_second: float) -> SlowBody:
    return SlowBody(body, bytes_per_second)


def gzip_bomb(inflated_size: int = 1 << 30) -> GzipBomb:
    return GzipBomb(inflated_size)


def delayed(seconds: float, inner: Behaviour) -> Delayed:
    return Delayed(seconds, inner)
