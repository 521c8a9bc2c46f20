"""A real local HTTP server with scripted routes, for tests that fetch over the network."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
