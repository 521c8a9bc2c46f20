"""HTTP/1.x message heads as stored in request and response records.

What the archiver stores (DESIGN: "content encoding kept as sent; if transfer framing
is removed, the headers say so"):

- The body is the entity body **with the transfer coding removed and the content
  coding kept**: exactly what ``httpx.Response.iter_raw()`` yields. A gzip-compressed
  page is stored gzip-compressed, byte for byte as the server sent it.
- The head is stored as received, except when the body's transfer framing was
  removed. Then every ``Transfer-Encoding`` line is renamed
  ``X-Archiver-Original-Transfer-Encoding`` (value untouched), every
  ``Content-Length`` line (meaningless next to chunking) is renamed
  ``X-Archiver-Original-Content-Length``, and one ``Content-Length: <stored body
  length>`` line is added before the blank line. The stored message is then
  self-consistent for replay tools, and no received byte of information is lost.
  Chunk extensions and trailers are dropped (as httpx drops them).

:func:`dechunk` turns raw chunked bytes into that body, for fetchers that read the
socket themselves (and for tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from archiver.errors import WarcError

ORIGINAL_TRANSFER_ENCODING = b"X-Archiver-Original-Transfer-Encoding"
ORIGINAL_CONTENT_LENGTH = b"X-Archiver-Original-Content-Length"

_END = b"\r\n\r\n"
_NAME = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESPONSE_LINE = re.compile(rb"^HTTP/1\.[01] [0-9]{3}( .*)?$")
_REQUEST_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/1\.[01]$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_MAX_SIZE_LINE = 4096


def format_http_head(start_line: str, headers: Sequence[tuple[bytes | str, bytes | str]]) -> bytes:
    """Build a head from a start line and (name, value) pairs, e.g. from httpx's
    ``response.headers.raw``; ends with the blank line."""
    lines = [start_line.encode("latin-1")]
    for name, value in headers:
        raw_name = name.encode("latin-1") if isinstance(name, str) else name
        raw_value = value.encode("latin-1") if isinstance(value, str) else value
        lines.append(raw_name + b": " + raw_value)
    head = b"\r\n".join(lines) + _END
    check_head(head, response=start_line.startswith("HTTP/"))
    return head


def check_head(head: bytes, *, response: bool) -> None:
    """Refuse a head that replay tools would split differently from us: it must be
    one start line, header lines, and end at its first blank line."""
    if not head.endswith(_END) or head.index(_END) != len(head) - len(_END):
        raise WarcError("an HTTP head must end with its first blank line (CRLF CRLF)")
    start, *lines = head[: -len(_END)].split(b"\r\n")
    pattern = _RESPONSE_LINE if response else _REQUEST_LINE
    if not pattern.match(start):
        kind = "status" if response else "request"
        raise WarcError(f"not an HTTP/1.x {kind} line: {start[:200]!r}")
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            continue  # obsolete line folding: part of the previous field
        name, sep, _ = line.partition(b":")
        if not sep or not _NAME.match(name):
            raise WarcError(f"malformed HTTP header line: {line[:200]!r}")


def note_transfer_decoding(head: bytes, body_length: int) -> bytes:
    """The head to store when the body's transfer coding has been removed.

    Unchanged when the head has no Transfer-Encoding; otherwise renamed and
    completed as described in the module docstring.
    """
    lines = head[: -len(_END)].split(b"\r\n")
    names = [_field_name(line) for line in lines]
    if b"transfer-encoding" not in names[1:]:
        return head
    out = [lines[0]]
    for line, name in zip(lines[1:], names[1:], strict=True):
        if name == b"transfer-encoding":
            line = ORIGINAL_TRANSFER_ENCODING + line[len(b"transfer-encoding") :]
        elif name == b"content-length":
            line = ORIGINAL_CONTENT_LENGTH + line[len(b"content-length") :]
        out.append(line)
    out.append(b"Content-Length: " + str(body_length).encode("ascii"))
    return b"\r\n".join(out) + _END


def _field_name(line: bytes) -> bytes | None:
    if line[:1] in (b" ", b"\t"):
        return None
    name, sep, _ = line.partition(b":")
    return name.lower() if sep else None


def dechunk(chunks: Iterable[bytes], *, allow_incomplete: bool = False) -> Iterator[bytes]:
    """Remove HTTP/1.1 chunked framing from a stream of raw bytes, lazily.

    Raises WarcError on malformed framing, and when the input ends before the last
    chunk unless ``allow_incomplete`` (a capture cut by a disconnect keeps what
    arrived, and marks the record ``WARC-Truncated: disconnect``).
    """
    decoder = _Dechunker()
    for piece in chunks:
        out = decoder.feed(piece)
        if out:
            yield out
    if not decoder.done and not allow_incomplete:
        raise WarcError("chunked body ended before its last chunk")


class _Dechunker:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._left = 0  # bytes of chunk data still expected
        self._state = "size"  # size -> data -> crlf -> size ... -> trailer -> done

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while self._buffer:
            if self._state == "data":
                take = min(self._left, len(self._buffer))
                out += self._buffer[:take]
                del self._buffer[:take]
                self._left -= take
                if self._left == 0:
                    self._state = "crlf"
                continue
            if self._state == "done":
                raise WarcError("data after the last chunk of a chunked body")
            line = self._line()
            if line is None:
                break
            self._on_line(line)
        return bytes(out)

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > _MAX_SIZE_LINE:
                raise WarcError("chunked body: line too long")
            return None
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        return line

    def _on_line(self, line: bytes) -> None:
        if self._state == "crlf":
            if line:
                raise WarcError("chunked body: chunk data longer than its size")
            self._state = "size"
        elif self._state == "size":
            size_text = line.split(b";", 1)[0].strip()  # drop chunk extensions
            if not _HEX.match(size_text):
                raise WarcError(f"chunked body: bad chunk size {line[:40]!r}")
            self._left = int(size_text, 16)
            self._state = "data" if self._left else "trailer"
        elif not line:  # trailer fields end with a blank line
            self._state = "done"
