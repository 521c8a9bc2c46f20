"""A strict, damage-tolerant reader for gzip-per-record WARC files.

It walks the file one gzip member at a time with zlib directly, so it can tell what
a general-purpose reader glosses over: a member cut short (a truncated file), a
member whose CRC fails, two records in one member, bytes between members. After a
damaged member it resumes at the next gzip header, so later records are still read.

The caller's ``consume`` function reads each record's block; the reader then checks
the record's end (CRLF CRLF, end of member) and notes any problem on the record.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Generic, TypeVar

_READ = 1 << 20
_MAX_HEADER = 256 << 10
_GZIP_MAGIC = b"\x1f\x8b\x08"
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_VERSIONS = (b"WARC/1.1\r\n", b"WARC/1.0\r\n")

T = TypeVar("T")


class Corrupt(Exception):
    """The compressed data cannot be decompressed (bad deflate data or CRC)."""


class Fields:
    """WARC named fields in file order; lookups are case-insensitive."""

    def __init__(self, items: tuple[tuple[str, str], ...]) -> None:
        self.items = items

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.items if key.lower() == wanted), None)

    def get_all(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(value for key, value in self.items if key.lower() == wanted)

    def content_length(self) -> int | None:
        value = self.get("Content-Length")
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        return int(value) if value is not None and _DIGITS.match(value) else None


class _Member:
    """Decompressed view of one gzip member starting at ``start``."""

    def __init__(self, fh: BinaryIO, start: int) -> None:
        fh.seek(start)
        self._fh = fh
        self.start = start
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""  # compressed input not yet given to zlib
        self._taken = 0  # compressed bytes read from the file
        self._buffer = bytearray()
        self.end: int | None = None  # file offset after the member, once complete
        self.cut_short = False  # the file ended inside this member

    def _fill(self, want: int) -> None:
        while len(self._buffer) < want and self.end is None and not self.cut_short:
            if not self._pending:
                self._pending = self._fh.read(_READ)
                self._taken += len(self._pending)
                if not self._pending:
                    self.cut_short = True
                    return
            try:
                # max_length bounds memory even for highly compressible data.
                self._buffer += self._z.decompress(self._pending, _READ)
            except zlib.error as exc:
                raise Corrupt(str(exc)) from exc
            self._pending = self._z.unconsumed_tail
            if self._z.eof:
                # Everything given to zlib after the member's end is in unused_data. With
                # max_length, CPython may leave the same bytes in unconsumed_tail as well:
                # counting both put the member's end too early (a good record over 1 MiB
                # then failed as damaged), so only unused_data counts.
                left = len(self._z.unused_data)
                self.end = self.start + self._taken - left
                self._pending = b""

    def read(self, size: int) -> bytes:
        self._fill(size)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def readline(self, limit: int) -> bytes:
        scanned = 0
        while True:
            found = self._buffer.find(b"\n", scanned)
            if found >= 0 or len(self._buffer) >= limit:
                size = found + 1 if found >= 0 else limit
                return self.read(min(size, limit))
            scanned = len(self._buffer)
            before = len(self._buffer)
            self._fill(before + 1)
            if len(self._buffer) == before:
                return self.read(before)

    def rest(self) -> int:
        """Decompress to the member's end; return how many bytes were left over."""
        extra = 0
        while chunk := self.read(_READ):
            extra += len(chunk)
        return extra


class BlockReader:
    """A record's block: at most Content-Length bytes from its member."""

    def __init__(self, member: _Member, length: int) -> None:
        self._member = member
        self._left = length
        self.bytes_read = 0

    def read(self, size: int = _READ) -> bytes:
        if self._left <= 0:
            return b""
        data = self._member.read(min(size, self._left))
        self._left -= len(data)
        self.bytes_read += len(data)
        return data


@dataclass
class ScannedRecord(Generic[T]):
    offset: int
    length: int | None  # in the file; None when the member never ended
    fields: Fields
    bytes_read: int
    result: T | None  # what consume returned; None if the block was unreadable
    problems: list[str]
    corrupt: bool = False  # compressed data broken: the record could not be read through


def scan(
    fh: BinaryIO, size: int, consume: Callable[[Fields, BlockReader], T]
) -> tuple[list[ScannedRecord[T]], list[str]]:
    """Every record from offset 0, and the problems that belong to no one record."""
    records: list[ScannedRecord[T]] = []
    problems: list[str] = []
    offset: int | None = 0
    while offset is not None and offset < size:
        member = _Member(fh, offset)
        try:
            record = _read_record(member, consume)
            if record is None:
                member.rest()
        except Corrupt as exc:
            problems.append(f"offset {offset}: unreadable gzip data ({exc})")
            offset = _resume(fh, offset, problems)
            continue
        if record is not None:
            records.append(record)
        else:
            problems.append(f"offset {offset}: a gzip member that holds no WARC record")
        if member.cut_short:
            problems.append(f"offset {offset}: the file ends inside this gzip member (truncated)")
            break
        if record is not None and record.corrupt:
            offset = _resume(fh, offset, problems)
            continue
        offset = member.end
    return records, problems


def _resume(fh: BinaryIO, offset: int, problems: list[str]) -> int | None:
    found = _next_magic(fh, offset + 1)
    if found is not None:
        problems.append(f"offset {found}: reading resumed at the next gzip header")
    return found


def _read_record(
    member: _Member, consume: Callable[[Fields, BlockReader], T]
) -> ScannedRecord[T] | None:
    first = member.readline(64)
    if first not in _VERSIONS:
        return None
    items: list[tuple[str, str]] = []
    total = len(first)
    problems: list[str] = []
    while True:
        line = member.readline(_MAX_HEADER)
        total += len(line)
        if not line.endswith(b"\n") or total > _MAX_HEADER:
            problems.append("header block does not end")
            break
        if line in (b"\r\n", b"\n"):
            break
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if not sep:
            problems.append(f"malformed header line {line[:80]!r}")
            continue
        items.append((name.strip(), value.strip()))
    fields = Fields(tuple(items))
    length = fields.content_length()
    block = BlockReader(member, length if length is not None else 0)
    result: T | None = None
    try:
        result = consume(fields, block)
    except Corrupt as exc:
        problems.append(f"gzip data corrupt inside the block: {exc}")
        return ScannedRecord(member.start, None, fields, block.bytes_read, None, problems, True)
    if length is None:
        problems.append("no valid Content-Length")
    elif block.bytes_read < length:
        problems.append(f"block truncated: {block.bytes_read} of {length} bytes")
    if not member.cut_short:
        try:
            trailer = member.read(4)
            extra = member.rest()
        except Corrupt as exc:
            problems.append(f"gzip data corrupt after the block: {exc}")
            return ScannedRecord(
                member.start, None, fields, block.bytes_read, result, problems, True
            )
        if trailer != b"\r\n\r\n" and not member.cut_short:
            problems.append("record does not end with CRLF CRLF (Content-Length wrong?)")
        if extra:
            problems.append(
                f"{extra} more bytes in this gzip member: one record per member expected"
            )
    end = member.end
    return ScannedRecord(
        member.start,
        None if end is None else end - member.start,
        fields,
        block.bytes_read,
        result,
        problems,
    )


def _next_magic(fh: BinaryIO, position: int) -> int | None:
    """Offset of the next gzip header at or after ``position``, if any."""
    fh.seek(position)
    carry = b""
    base = position
    while block := fh.read(_READ):
        data = carry + block
        found = data.find(_GZIP_MAGIC)
        if found >= 0:
            return base + found
        carry = data[-(len(_GZIP_MAGIC) - 1) :]
        base += len(data) - len(carry)
    return None
