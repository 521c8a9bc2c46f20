"""The forward proxy itself: asyncio streams, absolute-form HTTP, CONNECT with TLS termination.

One event loop serves every connection, so hundreds of slow, hung or endless exchanges cost
a coroutine each and never block one another (latency is ``asyncio.sleep``, never
``time.sleep``). Connections persist (HTTP/1.1 keep-alive) inside and outside tunnels.
The server never touches the network beyond its own listening socket: every "origin" is
answered from the :class:`~tests.simweb.registry.Registry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ssl
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tests.simweb import squid
from tests.simweb.behaviours import Behaviour, Response
from tests.simweb.exchange import Exchange
from tests.simweb.messages import (
    BadRequest,
    Headers,
    Request,
    RequestHead,
    encode_head,
    parse_head,
)
from tests.simweb.registry import Registry, Route, coerce_result
from tests.simweb.tls import CertificateAuthority
from tests.simweb.urls import format_authority, normalize_url, split_authority

MAX_HEAD = 1 << 20
HANDSHAKE_TIMEOUT = 30.0
GRACEFUL_CLOSE_TIMEOUT = 30.0

Clock = Callable[[], datetime]


@dataclass
class _Connection:
    writer: asyncio.StreamWriter
    tunnel_host: str | None = None


@dataclass
class _Tunnel:
    host: str
    port: int


class ProxyServer:
    """Accepts client connections and answers them from the registry."""

    def __init__(
        self,
        registry: Registry,
        authority: CertificateAuthority,
        clock: Clock,
        *,
        bind_host: str = "127.0.0.1",
    ) -> None:
        self.registry = registry
        self.authority = authority
        self.clock = clock
        self.bind_host = bind_host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}

    # --- lifecycle (called on the loop thread) -------------------------------------------

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self, port: int = 0) -> int:
        """Open the listening socket (port 0 picks a free one) and return the port."""
        if self._server is not None:
            return self.port
        self._server = await asyncio.start_server(
            self._on_client,
            self.bind_host,
            port,
            backlog=4096,
            limit=MAX_HEAD,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self, host: str | None = None) -> None:
        """Abort open client connections (all, or the tunnels to ``host``) and wait briefly
        for their tasks to finish."""
        chosen = [
            task
            for task, conn in self._connections.items()
            if host is None or conn.tunnel_host == host
        ]
        for task in chosen:
            self._connections[task].writer.transport.abort()
            task.cancel()
        if chosen:
            await asyncio.wait(chosen, timeout=1.0)

    async def close(self) -> None:
        await self.stop_listening()
        await self.drop_connections()
        # Let transports run their connection_lost callbacks (which close the sockets).
        for _ in range(3):
            await asyncio.sleep(0)

    # --- one connection --------------------------------------------------------------------

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        conn = _Connection(writer)
        self._connections[task] = conn
        finished = False
        try:
            await self._serve_connection(reader, writer, conn)
            finished = True
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client went away or the TLS handshake failed: nothing to answer
        except asyncio.CancelledError:
            pass  # shutdown, offline() or a host failure dropped this connection
        except Exception:  # noqa: BLE001 - a simulator bug must not kill the server
            self.registry.log_error(traceback.format_exc())
        try:
            if finished:
                await _close_gracefully(writer)
        finally:
            writer.transport.abort()  # no-op after a graceful close
            self._connections.pop(task, None)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        tunnel: _Tunnel | None = None
        peer = writer.get_extra_info("peername")
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        while True:
            try:
                head = await _read_head(reader)
            except BadRequest as exc:
                await _send_plain(writer, 400, f"Bad Request: {exc}\n", self.clock())
                return
            if head is None:
                return
            if head.method == "CONNECT":
                if tunnel is not None:
                    await _send_plain(writer, 400, "CONNECT inside a tunnel\n", self.clock())
                    return
                tunnel = await self._open_tunnel(head, writer)
                if tunnel is None:
                    return
                conn.tunnel_host = tunnel.host
                continue
            try:
                url = _request_url(head, tunnel)
                body = await _read_body(head, reader, writer)
            except (BadRequest, ValueError) as exc:
                await _send_plain(writer, 400, f"Bad Request: {exc}\n", self.clock())
                return
            request = Request(
                method=head.method,
                url=url,
                headers=head.headers,
                body=body,
                http_version=head.version,
                client=client,
                received_at=self.clock(),
            )
            if not await self._answer(request, head, reader, writer, tunnel):
                return

    async def _open_tunnel(self, head: RequestHead, writer: asyncio.StreamWriter) -> _Tunnel | None:
        """Answer CONNECT: a proxy error if the host is unreachable, else 200 and a TLS
        handshake with the host's certificate on the same socket."""
        try:
            host, port = split_authority(head.target, 443)
        except ValueError:
            await _send_plain(writer, 400, "Bad CONNECT target\n", self.clock())
            return None
        self.registry.log_connect(f"{host}:{port}")
        failure = self.registry.failure_for(host)
        if failure is not None:
            answer = _failure_response(failure, head.target, host)
            exchange = Exchange(
                Request("CONNECT", f"https://{format_authority(host, port, 'https')}/"),
                asyncio.StreamReader(),
                writer,
                keep_alive=False,
                now=self.clock(),
            )
            await answer.serve(exchange)
            return None
        context = self.authority.server_context(host)
        # No await between the 200 and start_tls(): the client's ClientHello must reach the
        # TLS layer, not the plain stream reader.
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.start_tls(context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        return _Tunnel(host, port)

    async def _answer(
        self,
        request: Request,
        head: RequestHead,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tunnel: _Tunnel | None,
    ) -> bool:
        self.registry.log_request(request)
        host = request.host
        failure = self.registry.failure_for(host)
        if failure is not None and tunnel is not None:
            return False  # the origin behind an open tunnel went away: drop the tunnel
        exchange = Exchange(
            request, reader, writer, keep_alive=head.wants_keep_alive, now=self.clock()
        )
        if failure is not None:
            return await _failure_response(failure, request.url, host).serve(exchange)
        latency = self.registry.latency_for(host)
        if latency > 0:
            await asyncio.sleep(latency)
        behaviour = await self._behaviour_for(self.registry.resolve(request.url), request)
        exchange.now = self.clock()
        return await behaviour.serve(exchange)

    async def _behaviour_for(self, route: Route, request: Request) -> Behaviour:
        """The route itself, or what a handler returns for this request. A handler that
        raises is a bug in the test: it is logged (``SimulatedWeb.errors``) and answered 500."""
        if isinstance(route, Behaviour):
            return route
        try:
            result = route(request)
            if inspect.isawaitable(result):
                result = await result
            return coerce_result(result)
        except Exception:  # noqa: BLE001 - report handler bugs to the test, keep serving
            trace = traceback.format_exc()
            self.registry.log_error(f"handler for {request.url} raised:\n{trace}")
            return Response(500, trace, content_type="text/plain; charset=utf-8")


def _failure_response(failure: str, url: str, host: str) -> Response:
    if failure == "dns":
        return squid.dns_failure(url, host)
    return squid.connect_failure(url, host)


async def _close_gracefully(writer: asyncio.StreamWriter) -> None:
    """Close after the last response: let the transport flush what is still buffered (a
    close-delimited or large body would otherwise lose its tail), then FIN (and TLS
    close_notify). Bounded, and the connection stays tracked meanwhile, so shutdown can
    still abort it."""
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError, TimeoutError):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), GRACEFUL_CLOSE_TIMEOUT)


async def _read_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """The next request head, or None when the client closed the connection between
    requests."""
    while True:
        try:
            data = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise BadRequest("connection closed inside a request head") from None
            return None
        except asyncio.LimitOverrunError:
            raise BadRequest("request head too large") from None
        if data.strip():
            return parse_head(data)


def _request_url(head: RequestHead, tunnel: _Tunnel | None) -> str:
    """The absolute URL a request is for: absolute-form as sent to a proxy, or origin-form
    inside a tunnel (or to a client using the proxy as if it were the origin), completed
    from the Host header or the tunnel's CONNECT authority."""
    target = head.target
    # An origin-form path may itself hold a URL (web archives: /web/2022.../https://...).
    if "://" in target and not target.startswith("/"):
        return normalize_url(target)
    if not target.startswith("/"):
        raise BadRequest(f"unsupported request target {target!r}")
    scheme = "https" if tunnel is not None else "http"
    host_header = head.headers.get("host")
    if host_header:
        return normalize_url(f"{scheme}://{host_header}{target}")
    if tunnel is not None:
        return normalize_url(
            f"{scheme}://{format_authority(tunnel.host, tunnel.port, scheme)}{target}"
        )
    raise BadRequest("origin-form request without a Host header")


async def _read_body(
    head: RequestHead, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    chunked = "chunked" in head.headers.tokens("transfer-encoding")
    length_text = head.headers.get("content-length")
    if not chunked and not length_text:
        return b""
    if "100-continue" in head.headers.tokens("expect"):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are read and dropped
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    try:
        length = int(length_text or "0")
    except ValueError:
        raise BadRequest("bad Content-Length") from None
    if length < 0:
        raise BadRequest("negative Content-Length")
    return await reader.readexactly(length)


async def _send_plain(writer: asyncio.StreamWriter, status: int, text: str, now: datetime) -> None:
    """A minimal error answer for requests too broken to hand to the registry."""
    body = text.encode()
    headers = Headers(
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(encode_head(status, headers, date=now) + body)
        await writer.drain()
