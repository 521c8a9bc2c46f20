"""``SimulatedWeb``: the scripting API tests use, and the background thread the proxy runs in.

Tests are synchronous (or run their own event loop), the proxy is asynchronous: the proxy
gets a private event loop on a daemon thread, and every method here is safe to call from any
thread while requests are in flight. Between a capture and a check a test edits the
registry (``page``, ``remove``, ``gone``, ``dns_failure``, ``offline``...) and the next
request sees the change.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import trustme

from tests.simweb.behaviours import HTML, Response, redirect
from tests.simweb.corpus import DEFAULT_CORPUS, CorpusEntry, Prefer, pick_per_url, read_manifest
from tests.simweb.messages import HeaderInput, LoggedRequest
from tests.simweb.registry import GONE_PAGE, HostConfig, Registry, Route
from tests.simweb.server import Clock, ProxyServer
from tests.simweb.tls import CertificateAuthority
from tests.simweb.urls import normalize_host

if TYPE_CHECKING:
    from playwright.async_api import ProxySettings

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


# A connectivity check, as the real web has them (Google's generate_204): every
# simulated web answers it with 204, so tests give the archiver a control probe
# (check.canary_urls) that is up exactly while the simulated web is.
CANARY_URL = "https://connectivity-check.simweb.test/generate_204"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatedWeb:
    """A forward HTTP(S) proxy on 127.0.0.1 that answers for any host from fixtures.

    Use as a context manager::

        with SimulatedWeb() as web:
            web.page("https://rus.azattyq.org/a/1.html", "<title>x</title>")
            httpx.get(url, proxy=web.proxy_url, verify=web.ssl_context_for_clients())
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        clock: Clock | None = None,
        bind_host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._registry = Registry()
        self._registry.default_latency = latency
        self._clock = clock or _utc_now
        self._bind_host = bind_host
        self._requested_port = port
        self._tmpdir: Path | None = None
        self._authority: CertificateAuthority | None = None
        self._server: ProxyServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._registry.set_route(CANARY_URL, Response(204, b"", content_type=None))

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> SimulatedWeb:
        if self._thread is not None:
            return self
        self._tmpdir = Path(tempfile.mkdtemp(prefix="simweb-"))
        self._authority = CertificateAuthority(self._tmpdir)
        self._server = ProxyServer(
            self._registry, self._authority, self._clock, bind_host=self._bind_host
        )
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="simweb", daemon=True)
        self._thread.start()
        try:
            self._call(self._server.listen(self._requested_port))
        except BaseException:
            self.close()
            raise
        assert loop.is_running()
        return self

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def close(self) -> None:
        """Stop listening, abort every connection (hung ones included), join the thread."""
        loop, thread, server = self._loop, self._thread, self._server
        if loop is not None and thread is not None and server is not None and loop.is_running():
            try:
                self._call(server.close(), timeout=5.0)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=5.0)
        self._thread = self._loop = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> SimulatedWeb:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the proxy's loop and wait for its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("SimulatedWeb is not running; use it as a context manager")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- addresses and trust -----------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._running_server.port

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:PORT``: the value for ``network.proxy`` and httpx's ``proxy``."""
        return f"http://{self._bind_host}:{self.port}"

    @property
    def playwright_proxy(self) -> ProxySettings:
        """The ``proxy`` argument of Playwright's ``launch()`` / ``new_context()``."""
        return {"server": self.proxy_url}

    @property
    def ca(self) -> trustme.CA:
        return self._running_authority.ca

    @property
    def ca_pem_path(self) -> Path:
        """The throwaway CA's certificate (PEM), e.g. for ``httpx.Client(verify=...)``."""
        return self._running_authority.ca_pem_path

    @property
    def ca_spki_sha256(self) -> str:
        """base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's SPKI format)."""
        return self._running_authority.spki_sha256_base64

    def ssl_context_for_clients(self) -> ssl.SSLContext:
        """A verifying client ``SSLContext`` trusting only this instance's CA."""
        return self._running_authority.client_context()

    def chromium_args(self, *, trust_ca: bool = True) -> list[str]:
        """Arguments for Debian's Chromium: quiet background networking and, with
        ``trust_ca``, accept certificates chaining to this instance's CA (and only those)
        via ``--ignore-certificate-errors-spki-list``."""
        args = list(CHROMIUM_ARGS)
        if trust_ca:
            args.append(f"--ignore-certificate-errors-spki-list={self.ca_spki_sha256}")
        return args

    @property
    def _running_server(self) -> ProxyServer:
        if self._server is None:
            raise RuntimeError("SimulatedWeb is not started")
        return self._server

    @property
    def _running_authority(self) -> CertificateAuthority:
        if self._authority is None:
            raise RuntimeError("SimulatedWeb is not started")
        return self._authority

    # --- what URLs answer ----------------------------------------------------------------------

    def page(
        self,
        url: str,
        body: bytes | str | Route = b"",
        status: int | None = None,
        headers: HeaderInput = None,
        content_type: str | None = HTML,
        *,
        both_schemes: bool = True,
    ) -> str:
        """Make ``url`` answer ``body`` (exact URL, query included; served the same over
        http and https unless ``both_schemes=False``). ``body`` may also be a behaviour
        (``hang()``, ``status(429)``...) or a handler ``f(request) -> Behaviour | bytes | str``
        (sync, or async if it needs to wait; it runs on the proxy's loop, so it must not
        block). Returns the normalised URL."""
        if isinstance(body, bytes | str):
            route: Route = Response(status or 200, body, headers, content_type=content_type)
        elif status is not None or headers is not None:
            raise TypeError("status/headers apply to a body, not to a behaviour or handler")
        else:
            route = body
        return self._registry.set_route(url, route, both_schemes=both_schemes)

    def redirect(self, url: str, to: str, status: int = 301, *, both_schemes: bool = True) -> str:
        return self._registry.set_route(url, redirect(to, status), both_schemes=both_schemes)

    def remove(self, url: str) -> None:
        """The page is deleted: the URL answers like any unknown path of its host (404, or
        the soft-404 page on hosts configured with ``soft_404``)."""
        self._registry.delete_route(url)

    def gone(self, url: str) -> str:
        """The page is deleted for good: 410 Gone."""
        return self._registry.set_route(url, Response(410, GONE_PAGE))

    def host(
        self,
        name: str,
        *,
        not_found_body: bytes | str | None = None,
        soft_404: bool | None = None,
        latency: float | None = None,
    ) -> HostConfig:
        """Declare a host (so it resolves even without pages) and set its not-found page,
        soft-404 mode (unknown paths answer 200 with that page) and latency."""
        changes: dict[str, object] = {}
        if not_found_body is not None:
            changes["not_found_body"] = (
                not_found_body.encode() if isinstance(not_found_body, str) else not_found_body
            )
        if soft_404 is not None:
            changes["soft_404"] = soft_404
        if latency is not None:
            changes["latency"] = latency
        return self._registry.update_host(name, **changes)

    def override_host(self, name: str, route: Route | None) -> None:
        """Answer every URL of the host with ``route`` (e.g. ``hang()`` for a host whose
        server is wedged); ``None`` restores the per-URL pages."""
        self._registry.update_host(name, override=route)

    @property
    def latency(self) -> float:
        """Delay before every response of hosts without their own latency (seconds)."""
        return self._registry.default_latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._registry.default_latency = seconds

    def set_latency(self, host: str, seconds: float | None) -> None:
        """Per-host time to first byte; ``None`` returns the host to the global latency."""
        self._registry.update_host(host, latency=seconds)

    def dns_failure(self, host: str) -> None:
        """The host stops resolving: the proxy answers 503 with ``X-Squid-Error:
        ERR_DNS_FAIL 0`` (to CONNECT as well), like Squid. Open tunnels to it are dropped."""
        self._fail(host, "dns")

    def connection_refused(self, host: str) -> None:
        """The host refuses connections: 502 with ``X-Squid-Error: ERR_CONNECT_FAIL 111``."""
        self._fail(host, "refused")

    def restore_host(self, host: str) -> None:
        """Undo ``dns_failure``/``connection_refused``/``override_host`` for the host."""
        self._registry.update_host(host, failure=None, override=None)

    def _fail(self, host: str, failure: str) -> None:
        self._registry.update_host(host, failure=failure)
        self._call(self._running_server.drop_connections(normalize_host(host)))

    def offline(self) -> None:
        """Our own network is down: close the listening socket and every open connection,
        so clients get connection refused (httpx ``ConnectError``)."""
        server = self._running_server

        async def go_offline() -> None:
            await server.stop_listening()
            await server.drop_connections()

        self._call(go_offline())

    def online(self) -> None:
        """Listen again, on the same port."""
        server = self._running_server
        self._call(server.listen(server.port))

    @property
    def is_online(self) -> bool:
        return self._running_server.listening

    # --- corpus ------------------------------------------------------------------------------

    def load_corpus(self, root: Path = DEFAULT_CORPUS, *, prefer: Prefer = "earliest") -> list[str]:
        """Serve every manifest entry that has an ``original_url`` with its recorded status
        and content type, over http and https. Where a URL was captured more than once the
        ``prefer`` capture is served. Returns the URLs (as written in the manifest)."""
        entries = pick_per_url(read_manifest(root), prefer)
        for entry in entries:
            self.serve_entry(entry)
        return [entry.url for entry in entries if entry.url is not None]

    def serve_entry(self, entry: CorpusEntry) -> str:
        """Serve one corpus capture at its URL (e.g. to switch to a later capture)."""
        if entry.url is None:
            raise ValueError(f"{entry.path} has no original_url")
        return self.page(
            entry.url, entry.body(), status=entry.http_status, content_type=entry.content_type
        )

    # --- observation -------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every HTTP request so far (CONNECTs excluded), in arrival order, as
        ``(method, url, headers)`` with normalised absolute URLs (https inside tunnels)."""
        return self._registry.requests()

    @property
    def connects(self) -> list[str]:
        """The ``host:port`` of every CONNECT, in arrival order."""
        return self._registry.connects()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of handlers (or the simulator) that raised; should stay empty."""
        return self._registry.errors()

    def hits(self, url: str) -> int:
        """How many requests asked for exactly this URL (scheme included)."""
        return self._registry.hits(url)

    def clear_log(self) -> None:
        self._registry.clear_log()

    def urls(self) -> list[str]:
        """Every URL with a registered page, normalised."""
        return self._registry.urls()


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "SimulatedWeb"]
