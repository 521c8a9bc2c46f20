"""The yt-dlp request handler that sends through a :class:`VideoRoute`.

See :mod:`archiver.capture._ytdlp_route` for why yt-dlp's requests take the archiver's
own fetcher. Imported only when a video is downloaded (it loads yt-dlp).
"""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from email.message import Message
from typing import Any

from yt_dlp.networking._helper import get_redirect_method
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import (
    HTTPError,
    ProxyError,
    SSLError,
    TransportError,
)

from archiver.capture._ytdlp_route import VideoRoute
from archiver.capture.decode import decode_body
from archiver.capture.exchange import Body, Exchange, FailureKind
from archiver.errors import CaptureError

# API answers (JSON, HTML) are decoded in memory: no more than this.
_DECODED_LIMIT = 64 * 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


class _BodyReader(io.RawIOBase):
    """A captured body read as a file, from the start."""

    def __init__(self, body: Body) -> None:
        self._chunks: Iterator[bytes] = body.chunks()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            piece = next(self._chunks, None)
            if piece is None:
                return 0
            self._pending = piece
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Headers:
    """Response header pairs, in order, duplicates kept (yt-dlp's Response reads
    ``items()`` into an ``email.message.Message``)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class _CookieResponse:
    """What ``CookieJar.extract_cookies`` reads from a response."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._message = Message()
        for name, value in pairs:
            self._message[name] = value

    def info(self) -> Message:
        return self._message


def _request_bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if hasattr(data, "read"):
        read = data.read()
        return read if isinstance(read, bytes) else bytes(read)
    return b"".join(bytes(piece) for piece in data)


def _response(exchange: Exchange) -> Response:
    """The response yt-dlp reads: the body decoded when it was content-encoded (API
    answers; the WARC keeps it as sent), else streamed from the captured body."""
    assert exchange.status is not None
    pairs = exchange.response_headers
    encoding = exchange.header("content-encoding")
    fp: io.IOBase
    if exchange.body is None:
        fp = io.BytesIO(b"")
    elif encoding and encoding.strip().lower() != "identity":
        decoded = decode_body(exchange.body.chunks(), encoding, _DECODED_LIMIT)
        dropped = {"content-encoding", "content-length"}
        pairs = [(n, v) for n, v in pairs if n.lower() not in dropped]
        pairs.append(("Content-Length", str(len(decoded.data))))
        fp = io.BytesIO(decoded.data)
    else:
        fp = io.BufferedReader(_BodyReader(exchange.body))
    return Response(
        fp, exchange.url, _Headers(pairs), status=exchange.status, reason=exchange.reason or None
    )


def _raise_failure(exchange: Exchange) -> None:
    failure = exchange.failure
    if failure is None:
        return
    message = failure.message
    if failure.kind is FailureKind.PROXY:
        raise ProxyError(message)
    if failure.kind is FailureKind.TLS:
        raise SSLError(message)
    raise TransportError(message)


class ArchiverRH(RequestHandler):  # type: ignore[misc]
    """yt-dlp's requests through the archiver's fetcher (see the module docstring).
    Proxies given to yt-dlp are ignored: the fetcher uses ``network.proxy``."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = None
    _SUPPORTED_FEATURES = None

    def __init__(self, *, route: VideoRoute, max_redirects: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._route = route
        self._max_redirects = max_redirects

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)

    def _send(self, request: Any) -> Response:
        headers = dict(self._get_headers(request))
        cookiejar = self._get_cookiejar(request)
        url, method, body = request.url, request.method, _request_bytes(request.data)
        for _ in range(self._max_redirects + 1):
            sent = urllib.request.Request(url, headers=headers, method=method)
            cookiejar.add_cookie_header(sent)
            pairs = [*headers.items()]
            cookie = sent.get_header("Cookie") or sent.unredirected_hdrs.get("Cookie")
            if cookie:
                pairs.append(("Cookie", cookie))
            try:
                exchange = self._route.fetch(url, method, pairs, body)
            except CaptureError as exc:
                raise TransportError(str(exc), cause=exc) from exc
            _raise_failure(exchange)
            cookiejar.extract_cookies(_CookieResponse(exchange.response_headers), sent)
            location = exchange.header("location")
            if exchange.status not in _REDIRECTS or not location:
                break
            url = urllib.parse.urljoin(url, location.strip())
            new_method = get_redirect_method(method, exchange.status)
            if new_method != method:
                body = b""
                for name in [n for n in headers if n.lower().startswith("content-")]:
                    del headers[name]
            method = new_method
        else:
            raise TransportError(f"more than {self._max_redirects} redirects")
        response = _response(exchange)
        if not 200 <= response.status < 300:
            raise HTTPError(response)
        return response


def route_ytdlp(ydl: Any, route: VideoRoute, *, max_redirects: int) -> None:
    """Make :class:`ArchiverRH` the only request handler of the YoutubeDL ``ydl``."""
    director = ydl.build_request_director([_handler(route, max_redirects)])
    if "_request_director" in ydl.__dict__:
        ydl.__dict__["_request_director"].close()
    ydl.__dict__["_request_director"] = director


def _handler(route: VideoRoute, max_redirects: int) -> Any:
    class BoundArchiverRH(ArchiverRH):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(route=route, max_redirects=max_redirects, **kwargs)

    return BoundArchiverRH
