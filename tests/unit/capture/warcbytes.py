"""Raw views of written WARC bytes, so unit tests check the format without our reader."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator


def rid(n: int) -> str:
    return f"<urn:uuid:{uuid.UUID(int=n)}>"


def members(data: bytes) -> Iterator[bytes]:
    """Decompress a gzip-per-record file member by member (asserting that shape)."""
    while data:
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        yield z.decompress(data)
        assert z.eof, "a gzip member is incomplete"
        data = z.unused_data


def split_record(record: bytes) -> tuple[dict[str, str], bytes]:
    """(header fields, block) of one decompressed record; checks the framing."""
    head, sep, rest = record.partition(b"\r\n\r\n")
    assert sep and rest.endswith(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "WARC/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    block = rest[: -len(b"\r\n\r\n")]
    assert int(fields["Content-Length"]) == len(block)
    return fields, block


def records(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    return [split_record(member) for member in members(data)]
