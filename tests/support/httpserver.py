"""A real local HTTP server with scripted routes, for tests that fetch over the network."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Response | Callable[[BaseHTTPRequestHandler], Response]


class LocalServer:
    def __init__(self, server: ThreadingHTTPServer, routes: dict[str, Route]) -> None:
        self._server = server
        self.routes = routes
        self.requests: list[str] = []

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[LocalServer]:
    holder: list[LocalServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            local = holder[0]
            local.requests.append(self.path)
            route = local.routes.get(self.path)
            if route is None:
                response = Response(404, b"not found", {"Content-Type": "text/plain"})
            elif isinstance(route, Response):
                response = route
            else:
                response = route(self)
            self.send_response(response.status)
            headers = {"Content-Length": str(len(response.body)), **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(LocalServer(server, routes))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class DripServer:
    """See :func:`drip_server`. ``connections``: accepted; ``requests``: connections
    whose request was read."""

    port: int
    connections: int = 0
    requests: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


HTTP_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: 100000\r\n\r\n" + b"x" * 100_000
)
SMTP_GREETING = b"220 mail.example.org ESMTP ready, slowly" + b"." * 1000 + b"\r\n"


@contextmanager
def drip_server(
    *, every: float = 0.2, lasting: float = 60.0, answer: bytes = HTTP_ANSWER
) -> Iterator[DripServer]:
    """A server that sends ``answer`` one byte every ``every`` seconds for ``lasting``
    seconds (an HTTP answer, status line and headers included, after reading the
    request; any other answer, such as :data:`SMTP_GREETING`, at once): every read a
    client makes returns well within any per-read timeout, so only a total deadline ends
    the exchange before ``lasting``."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    holder = DripServer(server.getsockname()[1])

    def serve_one(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            conn.settimeout(lasting)
            if answer.startswith(b"HTTP/"):
                conn.recv(65536)
                holder.requests += 1
            ends = time.monotonic() + lasting
            for byte in answer:
                if stop.is_set() or time.monotonic() > ends:
                    return
                conn.sendall(bytes([byte]))
                time.sleep(every)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            holder.connections += 1
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        stop.set()
        server.close()
        thread.join(5)
