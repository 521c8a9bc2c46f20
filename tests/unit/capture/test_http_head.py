"""What is stored of an HTTP message head, and removing chunked framing."""

from __future__ import annotations

import pytest

from archiver.capture.warc import dechunk, format_http_head, note_transfer_decoding
from archiver.capture.warc.http_head import check_head
from archiver.errors import WarcError

CHUNKED = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html\r\n"
    b"transfer-encoding:  chunked\r\n"
    b"Server: test\r\n"
    b"\r\n"
)


def test_head_without_transfer_encoding_is_kept_byte_for_byte() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: Text/HTML\r\n\r\n"
    assert note_transfer_decoding(head, 5) == head


def test_dechunked_head_renames_transfer_encoding_and_adds_content_length() -> None:
    assert note_transfer_decoding(CHUNKED, 11) == (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html\r\n"
        # The value (with its odd spacing) is kept; only the name changes.
        b"X-Archiver-Original-Transfer-Encoding:  chunked\r\n"
        b"Server: test\r\n"
        b"Content-Length: 11\r\n"
        b"\r\n"
    )


def test_a_content_length_next_to_chunking_is_renamed_not_trusted() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert note_transfer_decoding(head, 3) == (
        b"HTTP/1.1 200 OK\r\n"
        b"X-Archiver-Original-Content-Length: 999\r\n"
        b"X-Archiver-Original-Transfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n"
        b"\r\n"
    )


def test_format_http_head_from_raw_pairs() -> None:
    head = format_http_head(
        "HTTP/1.1 404 Not Found", [(b"Content-Type", b"text/plain"), ("X-A", "b")]
    )
    assert head == b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A: b\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "response"),
    [
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", True),  # no blank line
        (b"HTTP/1.1 200 OK\r\n\r\nA: b\r\n\r\n", True),  # blank line in the middle
        (b"HTTP/2 200\r\n\r\n", True),  # not HTTP/1.x
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\n\r\n", True),  # a request where a response belongs
        (b"HTTP/1.1 200 OK\r\n\r\n", False),
    ],
)
def test_malformed_heads_are_refused(head: bytes, response: bool) -> None:
    with pytest.raises(WarcError):
        check_head(head, response=response)


def test_well_formed_heads_pass() -> None:
    check_head(b"GET /a?b=c HTTP/1.1\r\nHost: example.org\r\n\r\n", response=False)
    check_head(b"HTTP/1.0 204\r\n\r\n", response=True)
    check_head(b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n", response=True)


RAW = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(RAW)])
def test_dechunk_handles_any_split_of_the_input(step: int) -> None:
    pieces = [RAW[i : i + step] for i in range(0, len(RAW), step)]
    assert b"".join(dechunk(pieces)) == b"hello world"


def test_dechunk_accepts_uppercase_hex_and_big_chunks() -> None:
    data = b"x" * 0x1AB
    assert b"".join(dechunk([b"1AB\r\n" + data + b"\r\n0\r\n\r\n"])) == data


@pytest.mark.parametrize(
    "raw",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"-5\r\nhello\r\n0\r\n\r\n",  # sign
        b"3\r\nhello\r\n0\r\n\r\n",  # data longer than size
        b"0\r\n\r\nextra",  # data after the end
    ],
)
def test_dechunk_refuses_malformed_framing(raw: bytes) -> None:
    with pytest.raises(WarcError):
        b"".join(dechunk([raw]))


def test_dechunk_incomplete_input_raises_unless_allowed() -> None:
    cut = b"5\r\nhello\r\n6\r\n wo"
    with pytest.raises(WarcError, match="before its last chunk"):
        b"".join(dechunk([cut]))
    assert b"".join(dechunk([cut], allow_incomplete=True)) == b"hello wo"
