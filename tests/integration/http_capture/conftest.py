"""Fetchers pointed at the simulated web (as their proxy) or at direct local servers."""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from archiver.capture.http import Fetcher
from archiver.config import CaptureSettings, NetworkSettings
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401 - the fixture

MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_fetcher(
    tmp_path: Path,
    web: SimulatedWeb | None = None,
    *,
    proxy: str | None = None,
    allow_private_networks: bool = False,
    timeout: float = 10.0,
    max_redirects: int = 10,
    **capture: Any,
) -> Fetcher:
    """A Fetcher through ``web`` (or ``proxy``, or direct), polite settings relaxed for
    tests unless given."""
    network = NetworkSettings(
        proxy=proxy if proxy is not None else (web.proxy_url if web is not None else ""),
        allow_private_networks=allow_private_networks,
        timeout=timeout,
        max_redirects=max_redirects,
    )
    capture.setdefault("per_host_concurrency", 8)
    capture.setdefault("per_host_interval", 0)
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    return Fetcher(network, CaptureSettings(**capture), spool_dir=spool)


@dataclass
class TlsServer:
    """A direct local https server (certificate from a throwaway CA nobody trusts)."""

    port: int
    ca_pem: Path
    routes: dict[str, tuple[int, bytes]]
    requests: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"


@contextmanager
def serve_tls(tmp_path: Path, routes: dict[str, tuple[int, bytes]]) -> Iterator[TlsServer]:
    ca = trustme.CA()
    ca_pem = tmp_path / "direct-ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    holder: list[TlsServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            holder[0].requests.append(dict(self.headers.items()))
            status, body = holder[0].routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder.append(TlsServer(server.server_address[1], ca_pem, routes))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    with serve_tls(tmp_path, {"/": (200, b"<p>direct and secret</p>")}) as server:
        yield server
