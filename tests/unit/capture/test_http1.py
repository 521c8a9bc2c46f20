"""The plain HTTP/1.1 client's pure parts: response heads, body framing, keep-alive."""

from __future__ import annotations

import httpcore
import pytest

from archiver.capture._http1 import ResponseHead, body_framing, keep_alive, parse_head


def head(*lines: bytes, status: bytes = b"HTTP/1.1 200 OK") -> ResponseHead:
    return parse_head(b"\r\n".join([status, *lines]) + b"\r\n\r\n")


def test_head_keeps_spelling_order_and_reason() -> None:
    parsed = head(b"X-Mixed-Case:  yes ", b"set-cookie: a=b", b"Set-Cookie: c=d")
    assert parsed.version == b"HTTP/1.1" and parsed.status == 200 and parsed.reason == b"OK"
    assert parsed.headers == [
        (b"X-Mixed-Case", b"yes"),
        (b"set-cookie", b"a=b"),
        (b"Set-Cookie", b"c=d"),
    ]


def test_head_without_reason_and_http_1_0() -> None:
    parsed = head(status=b"HTTP/1.0 404")
    assert (parsed.version, parsed.status, parsed.reason) == (b"HTTP/1.0", 404, b"")


def test_obsolete_line_folding_is_joined() -> None:
    assert head(b"X-Long: one", b"  two").headers == [(b"X-Long", b"one two")]


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
    ],
)
def test_malformed_heads_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(httpcore.RemoteProtocolError):
        parse_head(raw)


@pytest.mark.parametrize(
    ("lines", "status", "method", "expected"),
    [
        ([b"Content-Length: 10"], b"HTTP/1.1 200 OK", "GET", ("length", 10)),
        ([b"Content-Length: 10, 10"], b"HTTP/1.1 200 OK", "GET", ("length", 10)),
        ([b"Content-Length: 0"], b"HTTP/1.1 200 OK", "GET", ("none", 0)),
        ([b"Content-Length: 10"], b"HTTP/1.1 200 OK", "HEAD", ("none", 0)),
        ([b"Content-Length: 10"], b"HTTP/1.1 304 Not Modified", "GET", ("none", 0)),
        ([], b"HTTP/1.1 204 No Content", "GET", ("none", 0)),
        ([], b"HTTP/1.1 200 OK", "GET", ("close", 0)),
        # Transfer-Encoding wins over Content-Length; chunked must be the last coding.
        (
            [b"Transfer-Encoding: gzip, Chunked", b"Content-Length: 3"],
            b"HTTP/1.1 200 OK",
            "GET",
            ("chunked", 0),
        ),
        ([b"Transfer-Encoding: chunked, gzip"], b"HTTP/1.1 200 OK", "GET", ("close", 0)),
    ],
)
def test_body_framing(
    lines: list[bytes], status: bytes, method: str, expected: tuple[str, int]
) -> None:
    assert body_framing(head(*lines, status=status), method) == expected


@pytest.mark.parametrize("value", [b"10, 11", b"-1", b"ten"])
def test_conflicting_or_invalid_content_length_is_an_error(value: bytes) -> None:
    with pytest.raises(httpcore.RemoteProtocolError):
        body_framing(head(b"Content-Length: " + value), "GET")


def test_keep_alive_rules() -> None:
    assert keep_alive(head())
    assert not keep_alive(head(b"Connection: Close"))
    assert not keep_alive(head(status=b"HTTP/1.0 200 OK"))
    assert keep_alive(head(b"Connection: keep-alive", status=b"HTTP/1.0 200 OK"))
