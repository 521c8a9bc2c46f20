"""The HTTP fetcher: one request, one :class:`~archiver.capture.exchange.Exchange`.

Everything the archiver fetches for a capture goes through :class:`Fetcher`: the plain
HTTP capture (``fetch_chain``) and every request a browser page makes (``fetch``, with
the browser's headers). It keeps the bytes exactly as the server sent them (content
coding kept, transfer framing removed), never raises for network or HTTP trouble (a
failure is evidence too: it becomes ``Exchange.failure``) and never follows a redirect
on its own.

It drives httpcore (the engine under httpx) directly: httpx's transport has no public
way to plug in a network backend, and :class:`~archiver.net.backend.GuardedBackend`
must sit there to resolve names itself and connect only to addresses the
private-network guard accepted. ``aiter_stream()`` yields what httpx's ``aiter_raw()``
would: the body with chunked framing removed and content coding kept. Connections are
pooled per origin (:mod:`._http_pools`) and reused across requests; a
:class:`~archiver.net.politeness.HostLimiter` bounds and spaces page loads per host, and
the requests a browser page makes for itself are bounded per page
(:class:`~archiver.net.politeness.PageResources`).

``http://`` and ``https://``, direct or through any proxy, take this one path: one
parser of what hostile servers send (h11's), one set of framing rules, one guard.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

import httpcore
import httpx

from archiver.capture._http_failures import classify, dropped_unanswered, squid_failure
from archiver.capture._http_heads import (
    HeaderPairs,
    RawHeaders,
    header_value,
    request_head,
    request_headers,
    response_head,
)
from archiver.capture._http_pools import OriginKey, OriginPools, make_pool
from archiver.capture._http_tls import (
    CertificateMemory,
    cert_verification_error,
    describe_verify_error,
    tls_info,
    unverified_context,
    verifying_context,
)
from archiver.capture._http_trace import RequestTrace
from archiver.capture.decode import Decoded, decode_body
from archiver.capture.exchange import Body, Exchange, Failure, FailureKind
from archiver.clock import utc_now
from archiver.config import CaptureSettings, NetworkSettings
from archiver.errors import ArchiverError, NetworkError
from archiver.net.backend import CONNECTION_INFO, ConnectionInfo, GuardedBackend
from archiver.net.politeness import (
    PAGE_CONNECTIONS_PER_HOST,
    HostBusyError,
    HostLimiter,
    Slots,
    parse_retry_after,
)

__all__ = ["Fetcher", "decode"]

try:
    import sniffio  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
except ImportError:
    # httpcore runs ``import sniffio`` each time it creates a lock or an event (several
    # times per request). Without sniffio installed every such import searches sys.path
    # again: about a millisecond of CPU per request (measured). A None entry makes the
    # failed import instant; the outcome (ImportError, so httpcore assumes asyncio) is
    # the same. Installing sniffio makes this a no-op.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What an exchange can fail with short of a response. Anything else is a bug and raises.
_NETWORK_ERRORS = (
    httpcore.ProxyError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    ArchiverError,
    OSError,
)


def decode(exchange: Exchange, limit: int) -> Decoded:
    """The exchange's body with its Content-Encoding undone, at most ``limit`` bytes."""
    if exchange.body is None:
        return Decoded(b"", False)
    return decode_body(exchange.body.chunks(), exchange.header("content-encoding"), limit)


class Fetcher:
    """HTTP exchanges for captures. Use as ``async with Fetcher(network, capture) as f``.

    ``limiter`` may be shared with the browser capture so both respect one per-host
    budget; ``clock`` gives ``started_at`` (UTC); ``spool_dir`` receives bodies past
    1 MiB. Connections per origin: enough for the limiter's per-host concurrency plus
    what the browser captures' pages may open at once (:class:`PageResources`), kept
    alive for reuse, closed when the origin has been idle for a while (at most
    ``max_idle_origins`` idle origins keep connections).
    """

    def __init__(
        self,
        network: NetworkSettings,
        capture: CaptureSettings,
        *,
        spool_dir: Path | None = None,
        clock: Callable[[], datetime] = utc_now,
        limiter: HostLimiter | None = None,
        max_idle_origins: int = 256,
        backend: GuardedBackend | None = None,
    ) -> None:
        self._network = network
        self._capture = capture
        self._spool_dir = spool_dir
        self._clock = clock
        self.limiter = limiter or HostLimiter.from_settings(capture)
        self._proxied = bool(network.proxy)
        self._backend = backend or GuardedBackend(
            allow_private_networks=network.allow_private_networks,
            proxied=self._proxied,
            resolve_before_proxy=network.resolve_before_proxy,
        )
        # Page loads of one host, and each browser slot's page resources from it.
        self._per_origin = (
            self.limiter.concurrency + PAGE_CONNECTIONS_PER_HOST * capture.browser_concurrency
        )
        if capture.extra_ca_file is not None:
            self._verifying  # noqa: B018 - a bad capture.extra_ca_file fails here, not mid-run
        self._pools = OriginPools(
            lambda key, connections: make_pool(
                proxy=network.proxy,
                ssl_context=self._context_for(key),
                connections=connections,
                backend=self._backend,
            ),
            per_origin=self._per_origin,
            max_idle_origins=max_idle_origins,
        )
        self._certificates = CertificateMemory()

    # TLS contexts are built at the first https:// origin: loading the system's CA
    # certificates takes about 50 ms, paid by every worker process at its start
    # otherwise, and a run of plain http:// pages never needs them.
    @functools.cached_property
    def _verifying(self) -> ssl.SSLContext:
        return verifying_context(self._capture.extra_ca_file)

    @functools.cached_property
    def _not_verifying(self) -> ssl.SSLContext:
        return unverified_context()

    def _context_for(self, key: OriginKey) -> ssl.SSLContext | None:
        verified, scheme = key[0], key[1]
        if scheme != "https":
            return None  # no TLS to the origin
        return self._verifying if verified else self._not_verifying

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._pools.aclose()

    # -- public API ----------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: HeaderPairs | None = None,
        body: bytes = b"",
        deadline: float | None = None,
        via: str = "http",
        resource_type: str | None = None,
        max_bytes: int | None = None,
        politeness: Slots | None = None,
    ) -> Exchange:
        """Exactly one HTTP exchange (no redirect following). ``headers``: the
        browser's request headers, or None for our own request. ``deadline``: a
        ``time.monotonic()`` value for the whole exchange, body included (what arrived
        by then is kept, ``truncated="time"``). ``max_bytes`` defaults to
        ``capture.max_response_bytes``. ``politeness``: where the request takes its
        turn, the shared per-host limiter by default (a page load); a browser page's
        :class:`~archiver.net.politeness.PageResources` for what the page asks for.
        Never raises for network or HTTP problems."""
        started_at = self._clock()
        t0 = time.monotonic()
        method = method.upper()
        limit = self._capture.max_response_bytes if max_bytes is None else max_bytes
        try:
            target = httpx.URL(url)
            if target.scheme not in ("http", "https") or not target.host:
                raise ValueError("not an http(s) URL")
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            return Exchange(
                url=url,
                method=method,
                request_head=b"",
                request_body=body,
                started_at=started_at,
                failure=Failure.other(f"{url}: cannot be fetched", exc),
                via=via,
                resource_type=resource_type,
            )
        sent = request_headers(target, method, headers, body, self._network.user_agent)
        head, redacted = request_head(method, target, sent)
        exchange = Exchange(
            url=url,
            method=method,
            request_head=head,
            request_body=body,
            started_at=started_at,
            via=via,
            resource_type=resource_type,
            redacted_headers=redacted,
        )
        if self._proxied and not self._network.allow_private_networks:
            # The proxy resolves names: judge the destination before it sees the request
            # (e.g. http://192.168.1.1/ or http://localhost/ through a corporate proxy).
            wait = self._network.timeout
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                port = target.port or _DEFAULT_PORTS[target.scheme]
                await self._backend.check_target(target.host, port, wait)
            except (NetworkError, httpcore.ConnectTimeout) as exc:
                exchange.failure = classify(exc, target=url, proxied=True)
                return exchange
        if deadline is not None and time.monotonic() >= deadline:
            exchange.failure = Failure(
                FailureKind.TIMEOUT, f"{url}: not sent, the time budget was already used up"
            )
            return exchange
        try:
            async with (politeness or self.limiter).slot(target.host, deadline=deadline):
                await self._run(exchange, target, sent, body, deadline, limit, t0)
        except HostBusyError as exc:
            exchange.failure = classify(exc, target=url, proxied=self._proxied)
        exchange.timings["done"] = time.monotonic() - t0
        return exchange

    async def fetch_chain(
        self, url: str, *, deadline: float | None = None, max_redirects: int | None = None
    ) -> list[Exchange]:
        """GET ``url`` and follow its redirects, one Exchange per hop. A loop or more
        than ``max_redirects`` (default ``network.max_redirects``) redirects end the chain
        with Failure TOO_MANY_REDIRECTS on its last hop; a redirect to a non-http(s) URL
        ends it on that redirect."""
        allowed = self._network.max_redirects if max_redirects is None else max_redirects
        chain: list[Exchange] = []
        visited: set[str] = set()
        current = url
        while True:
            exchange = await self.fetch(current, deadline=deadline)
            chain.append(exchange)
            location = exchange.location
            if not exchange.ok or location is None:
                return chain
            try:
                here = httpx.URL(current)
                following = here.join(location.strip())
            except (httpx.InvalidURL, ValueError):
                return chain  # an unusable Location: the redirect itself is the result
            if following.scheme not in ("http", "https") or not following.host:
                return chain
            visited.add(str(here.copy_with(fragment=None)))
            if str(following.copy_with(fragment=None)) in visited:
                exchange.failure = Failure(
                    FailureKind.TOO_MANY_REDIRECTS,
                    f"redirect loop: {current} redirects to {following}, visited before",
                )
                return chain
            if len(chain) > allowed:
                exchange.failure = Failure(
                    FailureKind.TOO_MANY_REDIRECTS, f"more than {allowed} redirects from {url}"
                )
                return chain
            current = str(following)

    # -- one exchange ----------------------------------------------------------------------

    async def _run(
        self,
        exchange: Exchange,
        target: httpx.URL,
        sent: RawHeaders,
        body: bytes,
        deadline: float | None,
        limit: int,
        t0: float,
    ) -> None:
        https = target.scheme == "https"
        origin = (target.host, target.port or _DEFAULT_PORTS[target.scheme])
        probe = await self._certificates.settle(origin, deadline) if https else None
        verify_error = self._certificates.verify_error(origin) if https else None
        try:
            while True:
                new_error = await self._attempt(
                    exchange, target, sent, body, deadline, limit, t0, verify_error, probe
                )
                if new_error is None:
                    if exchange.tls is not None and exchange.tls.verified:
                        self._certificates.remember_success(origin)
                    return
                # The certificate did not verify: capture anyway, over an unverified
                # connection, and record why (DESIGN: failure to verify is not failure).
                verify_error = new_error
                self._certificates.remember_failure(origin, new_error)
                if probe is not None:
                    probe.set()  # requests waiting for this origin go unverified now
        finally:
            if probe is not None:
                self._certificates.end_probe(origin, probe)

    async def _attempt(
        self,
        exchange: Exchange,
        target: httpx.URL,
        sent: RawHeaders,
        body: bytes,
        deadline: float | None,
        limit: int,
        t0: float,
        verify_error: str | None,
        probe: asyncio.Event | None,
    ) -> str | None:
        """One try; returns a verify error when the certificate check failed (and this
        try verified), so the caller retries without verification. A GET or HEAD that a
        server dropped unanswered on a kept-alive connection (closing it as we reused
        it) is sent once more, on a new connection: nothing was answered, and both are
        idempotent."""
        verified = verify_error is None
        key = (verified, target.scheme, target.host, target.port or _DEFAULT_PORTS[target.scheme])
        async with self._pools.pool(key) as pool:
            for again in (False, True):
                trace = RequestTrace(
                    t0, on_tls=probe.set if probe is not None and verified else None
                )
                request = httpcore.Request(
                    method=exchange.method.encode("ascii"),
                    url=httpcore.URL(
                        scheme=target.raw_scheme,
                        host=target.raw_host,
                        port=target.port,
                        target=target.raw_path or b"/",
                    ),
                    headers=sent,
                    content=body,
                    extensions={"timeout": self._timeouts(deadline), "trace": trace},
                )
                try:
                    return await self._send(
                        exchange, pool, request, target, deadline, limit, t0, verify_error
                    )
                except httpcore.ProxyError as exc:
                    exchange.failure = self._proxy_refusal(exc, trace, exchange.url)
                except _NETWORK_ERRORS as exc:
                    reused = trace.connected is None  # no new connection in its trace
                    if not again and reused and dropped_unanswered(exc, exchange.method):
                        continue
                    exchange.failure = classify(exc, target=exchange.url, proxied=self._proxied)
                finally:
                    for name, value in (("connected", trace.connected), ("tls", trace.tls)):
                        if value is not None:
                            exchange.timings[name] = value
                return None
        return None

    async def _send(
        self,
        exchange: Exchange,
        pool: httpcore.AsyncConnectionPool,
        request: httpcore.Request,
        target: httpx.URL,
        deadline: float | None,
        limit: int,
        t0: float,
        verify_error: str | None,
    ) -> str | None:
        """Send, take the head, read the body, all within the deadline (the request's
        timeout extension bounds each network operation; this bounds the whole)."""
        verified = verify_error is None
        response: httpcore.Response | None = None
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                try:
                    response = await pool.handle_async_request(request)
                except httpcore.ConnectError as exc:
                    error = cert_verification_error(exc) if verified else None
                    if error is not None and target.scheme == "https":
                        return describe_verify_error(error)
                    raise
                exchange.timings["headers"] = time.monotonic() - t0
                if self._take_response(exchange, target, response, verified, verify_error):
                    await self._read_body(exchange, response.aiter_stream(), limit)
        except TimeoutError:
            if response is None:
                exchange.failure = classify(TimeoutError(), target=exchange.url, proxied=False)
            else:
                exchange.truncated = exchange.truncated or "time"
        finally:
            if response is not None:
                await response.aclose()
        return None

    def _take_response(
        self,
        exchange: Exchange,
        target: httpx.URL,
        response: httpcore.Response,
        verified: bool,
        verify_error: str | None,
    ) -> bool:
        """Record the response head; False when it is the proxy's failure page (then the
        exchange carries the failure and the body is not read)."""
        ext = response.extensions
        raw = list(response.headers)  # names as the server spelled them, in its order
        status = response.status
        version, reason = ext.get("http_version", b"HTTP/1.1"), ext.get("reason_phrase", b"")
        head = response_head(version, status, reason, raw)
        if self._proxied and status >= 400:
            squid = header_value(raw, b"x-squid-error")
            if squid is not None:
                exchange.failure = squid_failure(squid.decode("latin-1"), status, head)
                return False
        exchange.status = status
        exchange.reason = reason.decode("latin-1")
        exchange.http_version = version.decode("ascii", "replace")
        exchange.response_head = head
        exchange.response_headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
        stream = ext.get("network_stream")
        if stream is not None:
            info = stream.get_extra_info(CONNECTION_INFO)
            if isinstance(info, ConnectionInfo):
                exchange.ip_address = info.address
                exchange.resolver_answers = info.resolver_answers
            if target.scheme == "https":
                ssl_object = stream.get_extra_info("ssl_object")
                exchange.tls = tls_info(ssl_object, verified=verified, verify_error=verify_error)
        if status in (429, 503):
            retry_after = header_value(raw, b"retry-after")
            if retry_after is not None:
                seconds = parse_retry_after(retry_after.decode("latin-1"), self._clock())
                if seconds is not None:
                    self.limiter.defer(target.host, seconds)
        return True

    async def _read_body(
        self, exchange: Exchange, chunks: AsyncIterator[bytes], limit: int
    ) -> None:
        """Stream the body into a spooled Body, keeping what arrived on any cut."""
        body = exchange.body = Body(self._spool_dir)
        try:
            async for chunk in chunks:
                room = limit - body.size
                if len(chunk) > room:
                    if room > 0:
                        body.write(chunk[:room])
                    exchange.truncated = "length"
                    return
                body.write(chunk)
        except httpcore.ReadTimeout:
            exchange.truncated = "time"
        except (httpcore.ReadError, httpcore.WriteError):
            exchange.truncated = "disconnect"
        except httpcore.RemoteProtocolError as exc:
            # h11 says "peer closed connection without sending complete message body"
            # for a cut-off body; anything else is broken framing.
            exchange.truncated = "disconnect" if "closed" in str(exc) else "unspecified"

    def _proxy_refusal(self, exc: httpcore.ProxyError, trace: RequestTrace, url: str) -> Failure:
        if trace.connect_head is not None:
            version, status, reason, headers = trace.connect_head
            head = response_head(version, status, reason, headers)
            squid = header_value(headers, b"x-squid-error")
            return squid_failure(squid.decode("latin-1") if squid else "", status, head)
        return classify(exc, target=url, proxied=True)

    # -- plumbing --------------------------------------------------------------------------

    def _timeouts(self, deadline: float | None) -> dict[str, float]:
        seconds = self._network.timeout
        if deadline is not None:
            seconds = max(0.001, min(seconds, deadline - time.monotonic()))
        return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


def _loop_time(deadline: float | None) -> float | None:
    """A time.monotonic() deadline on the running loop's clock."""
    if deadline is None:
        return None
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())
