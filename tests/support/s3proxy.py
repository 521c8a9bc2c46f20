"""A local HTTP server in front of moto's S3 server that fails the way a real bucket's
endpoint does (issue 19, "Bad input and faults"): credentials that expire, an endpoint
that stops answering, a request held while a test kills the process that sent it.

Every request is handled in a thread of its own; :attr:`S3Proxy.fault` decides what
happens to each one (a function of the request, set and changed by the test while the
proxy runs). Requests are forwarded byte for byte (moto does not check signatures, so
the client's signature for the proxy's address does not matter)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class S3Request:
    method: str
    path: str  # /bucket/key
    query: dict[str, list[str]]

    @property
    def operation(self) -> str:
        """The S3 operation, as far as the tests need to tell them apart."""
        q = self.query
        if self.method == "PUT" and "partNumber" in q:
            return "UploadPart"
        if self.method == "POST" and "uploads" in q:
            return "CreateMultipartUpload"
        if self.method == "POST" and "uploadId" in q:
            return "CompleteMultipartUpload"
        if self.method == "DELETE" and "uploadId" in q:
            return "AbortMultipartUpload"
        if self.method == "PUT" and "retention" in q:
            return "PutObjectRetention"
        if self.method == "PUT":
            return "PutObject"
        if self.method == "HEAD":
            return "HeadObject" if self.path.strip("/").count("/") else "HeadBucket"
        return self.method


Action = Literal["forward", "expired", "stall", "forward-then-stall", "hold"]
Fault = Callable[[S3Request], Action]


def forward(_: S3Request) -> Action:
    return "forward"


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    ).encode()


class S3Proxy:
    """``endpoint`` is what the archiver is given as ``storage.s3_endpoint``.

    Actions: ``forward``; ``expired`` (403 ``ExpiredToken`` with S3's XML error body, as
    a store answers once a session token has expired; a HEAD gets the status alone, as S3
    sends no body to a HEAD); ``stall`` (the request is read and never answered);
    ``forward-then-stall`` (moto does it, its answer never comes back); ``hold`` (never
    answered; :attr:`held` is set, so a test can act while the request is in flight)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.fault: Fault = forward
        self.seen: list[S3Request] = []
        self.held = threading.Event()
        self.stop = threading.Event()  # ends every stalled or held request
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # Closing joins every request's thread (a test that forks afterwards must find
        # none left): the connections clients keep open are shut down first.
        self.server.daemon_threads = False
        self.server.block_on_close = True

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.server.server_close()

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for r in self.seen if r.operation == operation)

    def expire_after(self, n: int) -> None:
        """Answer ``ExpiredToken`` to every request after the next ``n`` (forwarded)."""
        left = [n]

        def fault(_: S3Request) -> Action:
            with self._lock:
                left[0] -= 1
                return "forward" if left[0] >= 0 else "expired"

        self.fault = fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and Expect: 100-continue

            def log_message(self, format: str, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._sockets.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._sockets.discard(self.connection)
                with suppress(OSError):
                    super().finish()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                request = S3Request(self.command, parts.path, parse_qs(parts.query, True))
                with proxy._lock:
                    proxy.seen.append(request)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy.fault(request)
                if action == "expired":
                    self._answer(
                        403, _error_body("ExpiredToken", "The provided token has expired.")
                    )
                elif action in ("stall", "hold"):
                    if action == "hold":
                        proxy.held.set()
                    self._wait()
                elif action == "forward-then-stall":
                    self._forward(body)  # done upstream; the answer is lost
                    self._wait()
                else:
                    self._answer(*self._forward(body))

            def _wait(self) -> None:
                proxy.stop.wait(120)
                self.close_connection = True

            def _forward(self, body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=60
                )
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    headers.pop("Expect", None)
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP]
                    return answer.status, data, kept
                finally:
                    connection.close()

            def _answer(
                self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
            ) -> None:
                self.send_response(status)
                kept = [(k, v) for k, v in headers or [] if k.lower() != "content-length"]
                if headers is None:
                    kept = [("Content-Type", "application/xml")]
                for name, value in kept:
                    self.send_header(name, value)
                if self.command == "HEAD":
                    # The upstream's length of the object, no body.
                    size = dict((k.lower(), v) for k, v in headers or []).get("content-length")
                    self.send_header("Content-Length", size or "0")
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler


@contextmanager
def s3_proxy(upstream: str) -> Iterator[S3Proxy]:
    proxy = S3Proxy(upstream)
    thread = threading.Thread(target=proxy.server.serve_forever, name="s3-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(10)


def wait_for(what: str, condition: Callable[[], bool], deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.02)
