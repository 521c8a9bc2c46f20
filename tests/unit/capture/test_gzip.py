"""Gzip members at every level: standard gzip (zlib reads the ISA-L ones too), the same
bytes for the same input, and the fixed header."""

from __future__ import annotations

import gzip
import zlib

import pytest

from archiver.capture.warc._gzip import GzipMember

TEXT = b"<html><body>" + b"<p>A paragraph of a news report, repeated.</p>\n" * 3000 + b"</html>"


def member(level: int, pieces: list[bytes]) -> bytes:
    out: list[bytes] = []
    writer = GzipMember(out.append, level)
    for piece in pieces:
        writer.write(piece)
    writer.close()
    return b"".join(out)


@pytest.mark.parametrize("level", range(1, 10))
def test_every_level_is_standard_gzip_and_reproducible(level: int) -> None:
    pieces = [TEXT[:1000], TEXT[1000:70_000], memoryview(TEXT)[70_000:].tobytes()]
    data = member(level, pieces)
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no time, no name
    assert gzip.decompress(data) == TEXT
    assert zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[10:-8]) == TEXT
    assert member(level, pieces) == data
    assert len(data) < len(TEXT) // 5


def test_empty_member() -> None:
    assert gzip.decompress(member(1, [])) == b""
