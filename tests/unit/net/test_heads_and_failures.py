"""Request heads (what is sent, what is stored: no secrets) and the failure mapping."""

from __future__ import annotations

import errno
import ssl

import httpcore
import httpx
import pytest

from archiver.capture._http_failures import classify, squid_failure
from archiver.capture._http_heads import request_head, request_headers, response_head
from archiver.capture.exchange import FailureKind
from archiver.net.backend import ForbiddenAddressError, ProxyUnreachableError, UnresolvableHostError
from archiver.net.politeness import HostBusyError

URL = httpx.URL("https://news.example:8443/a/1.html?x=1&y=%D1%8F")
UA = "evidence-archiver/test"


def test_own_request_headers() -> None:
    headers = request_headers(URL, "GET", None, b"", UA)
    assert headers == [
        (b"Host", b"news.example:8443"),
        (b"User-Agent", UA.encode()),
        (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"Accept-Encoding", b"gzip, deflate, br"),
    ]


def test_browser_headers_kept_in_order_hop_by_hop_dropped_encoding_forced() -> None:
    given = [
        ("Host", "evil.example"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("User-Agent", "Mozilla/5.0"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Keep-Alive", "300"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        (":authority", "news.example"),
        ("Referer", "https://news.example/"),
        ("Content-Length", "999"),
        ("Cookie", "session=s3cret"),
    ]
    headers = request_headers(URL, "POST", given, b"a=1", UA)
    assert headers == [
        (b"Host", b"news.example:8443"),
        (b"User-Agent", b"Mozilla/5.0"),
        (b"Accept-Encoding", b"gzip, deflate, br"),
        (b"Referer", b"https://news.example/"),
        (b"Cookie", b"session=s3cret"),
        (b"Content-Length", b"3"),
    ]


def test_browser_headers_as_a_mapping_get_our_agent_when_missing() -> None:
    headers = request_headers(URL, "GET", {"accept": "image/*"}, b"", UA)
    assert headers == [
        (b"Host", b"news.example:8443"),
        (b"User-Agent", UA.encode()),
        (b"accept", b"image/*"),
        (b"Accept-Encoding", b"gzip, deflate, br"),
    ]


def test_request_head_redacts_credentials() -> None:
    headers = request_headers(
        URL,
        "GET",
        [
            ("cookie", "session=s3cret"),
            ("Authorization", "Bearer t0ken"),
            ("Accept", "*/*"),
        ],
        b"",
        UA,
    )
    head, redacted = request_head("GET", URL, headers)
    assert head == (
        b"GET /a/1.html?x=1&y=%D1%8F HTTP/1.1\r\n"
        b"Host: news.example:8443\r\n"
        b"User-Agent: evidence-archiver/test\r\n"
        b"cookie: [redacted]\r\n"
        b"Authorization: [redacted]\r\n"
        b"Accept: */*\r\n"
        b"Accept-Encoding: gzip, deflate, br\r\n\r\n"
    )
    assert redacted == ("cookie", "Authorization")
    assert b"s3cret" not in head and b"t0ken" not in head


def test_response_head_keeps_order_and_case() -> None:
    headers = [(b"X-CamelCase", b"1"), (b"content-type", b"text/html"), (b"Set-Cookie", b"a=b")]
    assert response_head(b"HTTP/1.1", 404, b"Not Found", headers) == (
        b"HTTP/1.1 404 Not Found\r\nX-CamelCase: 1\r\ncontent-type: text/html\r\n"
        b"Set-Cookie: a=b\r\n\r\n"
    )
    assert response_head(b"HTTP/1.0", 200, b"", []) == b"HTTP/1.0 200\r\n\r\n"


@pytest.mark.parametrize(
    ("squid", "kind"),
    [
        ("ERR_DNS_FAIL 0", FailureKind.DNS),
        ("ERR_CONNECT_FAIL 111", FailureKind.REFUSED),
        ("ERR_CONNECT_TIMEOUT 110", FailureKind.TIMEOUT),
        ("ERR_READ_TIMEOUT 0", FailureKind.TIMEOUT),
        ("ERR_ZERO_SIZE_OBJECT 0", FailureKind.RESET),
        ("ERR_INVALID_RESP 0", FailureKind.PROTOCOL),
        ("ERR_SECURE_CONNECT_FAIL 71", FailureKind.TLS),
        ("ERR_ACCESS_DENIED 0", FailureKind.PROXY),
        ("", FailureKind.PROXY),
    ],
)
def test_squid_errors(squid: str, kind: FailureKind) -> None:
    head = b"HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: " + squid.encode() + b"\r\n\r\n"
    failure = squid_failure(squid, 503, head)
    assert failure.kind is kind
    assert "HTTP/1.1 503 Service Unavailable" in failure.message  # the proxy's answer kept


def _wrapped(outer: type[Exception], inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer(exc) from exc
    except Exception as exc:  # noqa: BLE001 - building a chained exception
        return exc


@pytest.mark.parametrize(
    ("exc", "proxied", "kind"),
    [
        (ForbiddenAddressError("refusing 10.0.0.5"), False, FailureKind.FORBIDDEN_ADDRESS),
        (UnresolvableHostError("cannot resolve"), False, FailureKind.DNS),
        (ProxyUnreachableError("cannot connect to the proxy"), True, FailureKind.PROXY),
        (HostBusyError("a.example: Retry-After"), False, FailureKind.TIMEOUT),
        (TimeoutError(), False, FailureKind.TIMEOUT),
        (httpcore.ConnectTimeout(), False, FailureKind.TIMEOUT),
        (httpcore.ReadTimeout(), True, FailureKind.TIMEOUT),
        (httpcore.PoolTimeout(), False, FailureKind.OTHER),
        (
            _wrapped(httpcore.ConnectError, ConnectionRefusedError(errno.ECONNREFUSED, "x")),
            False,
            FailureKind.REFUSED,
        ),
        (
            _wrapped(httpcore.ConnectError, OSError(errno.ECONNREFUSED, "Connect call failed")),
            False,
            FailureKind.REFUSED,
        ),
        (
            _wrapped(httpcore.ConnectError, ssl.SSLError(1, "[SSL] wrong version number")),
            False,
            FailureKind.TLS,
        ),
        (
            _wrapped(httpcore.ReadError, ConnectionResetError(104, "reset")),
            False,
            FailureKind.RESET,
        ),
        (
            httpcore.RemoteProtocolError("Server disconnected without sending a response."),
            False,
            FailureKind.RESET,
        ),
        (httpcore.RemoteProtocolError("illegal status line"), False, FailureKind.PROTOCOL),
        (httpcore.LocalProtocolError("Illegal header value"), False, FailureKind.PROTOCOL),
        (
            httpcore.ProxyError("Proxy Server could not connect: Connection refused."),
            True,
            FailureKind.REFUSED,
        ),
        (httpcore.ProxyError("407 Proxy Authentication Required"), True, FailureKind.PROXY),
    ],
)
def test_classify(exc: BaseException, proxied: bool, kind: FailureKind) -> None:
    failure = classify(exc, target="https://news.example/", proxied=proxied)
    assert failure.kind is kind
    assert failure.message


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://[2001:db8::1]:8080/x", b"[2001:db8::1]:8080"),
        ("https://президент.рф/", b"xn--d1abbgf6aiiy.xn--p1ai"),
        ("http://news.example:80/", b"news.example"),
        ("http://user:pw@news.example/", b"news.example"),
    ],
)
def test_host_header(url: str, host: bytes) -> None:
    assert request_headers(httpx.URL(url), "GET", None, b"", UA)[0] == (b"Host", host)
