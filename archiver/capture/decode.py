"""Undoing Content-Encoding, within a size limit.

The WARC keeps bodies exactly as sent (compressed); a reader (the browser being fed a
routed response, text extraction later) needs them decoded. A small gzip body can
inflate to gigabytes (a "gzip bomb"), so decoding stops at ``limit`` bytes and says so.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import brotli  # type: ignore[import-untyped]

# What we offer servers. Only codings we can undo here.
ACCEPT_ENCODING = "gzip, deflate, br"


@dataclass(frozen=True)
class Decoded:
    data: bytes
    # True when the limit stopped decoding before the end.
    truncated: bool
    # Set when the body claimed an encoding and was not valid in it (the raw bytes are
    # returned then, as the browser would show garbage too).
    error: str | None = None


class _Inflater:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding in {"gzip", "x-gzip"}:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:  # deflate: zlib-wrapped per the RFC, raw deflate in practice too
            self._zlib = zlib.decompressobj()
        self._raw_deflate_tried = False

    def feed(self, chunk: bytes, room: int) -> bytes:
        if self.encoding == "br":
            out: bytes = self._brotli.process(chunk, output_buffer_limit=room)
            return out[:room]
        try:
            return self._zlib.decompress(chunk, room)
        except zlib.error:
            if self.encoding == "deflate" and not self._raw_deflate_tried:
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._zlib.decompress(chunk, room)
            raise


def decode_body(chunks: Iterable[bytes], content_encoding: str | None, limit: int) -> Decoded:
    """Decode ``chunks`` per ``content_encoding`` (a header value), at most ``limit`` bytes."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    raw = b"".join(chunks) if len(codings) > 1 else None
    if len(codings) > 1:
        # Stacked codings are rare; decode layer by layer in memory within the limit.
        data = raw or b""
        for coding in reversed(codings):
            step = decode_body([data], coding, limit)
            if step.error:
                return Decoded(raw or b"", False, step.error)
            data = step.data
        return Decoded(data[:limit], len(data) >= limit)
    if not codings:
        out = bytearray()
        for chunk in chunks:
            out += chunk[: limit - len(out)]
            if len(out) >= limit:
                return Decoded(bytes(out), True)
        return Decoded(bytes(out), False)
    coding = codings[0]
    if coding not in {"gzip", "x-gzip", "deflate", "br"}:
        joined = b"".join(chunks)
        return Decoded(
            joined[:limit], len(joined) > limit, f"unsupported content-encoding {coding}"
        )
    inflater = _Inflater(coding)
    out = bytearray()
    kept = bytearray()
    try:
        for chunk in chunks:
            kept += chunk if len(kept) < limit else b""
            out += inflater.feed(chunk, limit - len(out))
            if len(out) >= limit:
                return Decoded(bytes(out[:limit]), True)
    except (zlib.error, brotli.error) as exc:
        return Decoded(bytes(kept[:limit]), False, f"invalid {coding} body: {exc}")
    return Decoded(bytes(out), False)
