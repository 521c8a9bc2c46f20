"""An httpcore network backend that checks the address it connects to.

Checking a host name before the request (``guard.check_host``) leaves a gap: the HTTP
library resolves the name again when it connects, and a hostile DNS server can answer
with a public address the first time and ``127.0.0.1`` the second ("DNS rebinding").
This backend closes the gap by resolving the name itself, refusing forbidden answers and
then connecting to exactly the address it checked, never to the name. It also keeps the
resolver's answers and the address used, which the WARC records as ``WARC-IP-Address``
and provenance; the HTTP layer reads them from the stream with
``get_extra_info(CONNECTION_INFO)``.

Through a proxy the backend only ever connects to the proxy, the operator's choice, and
the origin's address stays unknown; the destination is judged before the request is made
(:meth:`GuardedBackend.check_target`, the rules of :mod:`archiver.net.guard`). A failure
to reach the proxy is raised as :class:`ProxyUnreachableError`: it says nothing about the
source.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore

from archiver.errors import NetworkError
from archiver.net.guard import (
    answers_refusal,
    destination_refusal,
    forbidden_reason,
    literal_address,
    literal_refusal,
    normalize_host,
    resolves_locally,
)
from archiver.net.guard import refusal_message as refusal_message

# Key for AsyncNetworkStream.get_extra_info(): returns the stream's ConnectionInfo.
CONNECTION_INFO = "archiver.connection_info"

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
SocketOption = Any  # httpcore's SOCKET_OPTION union; only passed through


class ForbiddenAddressError(NetworkError):
    """Every address the host resolved to is private, loopback, link-local or metadata."""


class UnresolvableHostError(NetworkError):
    """The host name does not resolve (NXDOMAIN, no address, resolver failure)."""


class ProxyUnreachableError(NetworkError):
    """The configured proxy could not be connected to: our network, not the source."""


@dataclass(frozen=True)
class ConnectionInfo:
    """What is known about where a connection goes."""

    # The address connected to; None through a proxy (the proxy picks the origin's).
    address: str | None
    # Every address the resolver answered, in its order (empty through a proxy).
    resolver_answers: tuple[str, ...] = ()
    proxied: bool = False


async def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``, in its order, duplicates removed."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def forbidden_literal(host: str) -> str | None:
    """The refusal for a host that is itself a forbidden IP address, in any spelling
    (None for names and public addresses)."""
    return literal_refusal(host, proxied=False)


def _readable(sock: socket.socket | None) -> bool:
    """True when a read would not block: data or EOF waiting (an idle keep-alive
    connection the server closed). A socket without a descriptor counts as readable,
    as in httpcore, so the connection is dropped."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _is_ip(host: str) -> bool:
    if not host or not (host[0].isdigit() or ":" in host):
        return False  # a name: skip the costlier parse on the hot path
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class GuardedStream(httpcore.AsyncNetworkStream):
    """A stream that remembers where it goes, also after the TLS upgrade."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, info: ConnectionInfo) -> None:
        self._inner = inner
        self.info = info
        self._socket: socket.socket | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        upgraded = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return GuardedStream(upgraded, self.info)

    def get_extra_info(self, info: str) -> Any:
        if info == CONNECTION_INFO:
            return self.info
        if info == "is_readable":
            # httpcore asks this of every idle connection whenever its pool is touched,
            # and anyio rebuilds a dict of all socket attributes to answer it: keep the
            # socket, poll it directly (same answer, a fraction of the cost).
            if self._socket is None:
                self._socket = self._inner.get_extra_info("socket")
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, refuse forbidden addresses, connect to the checked address.

    ``proxied``: every connection goes to the configured proxy; nothing is checked.
    ``resolver`` and ``inner`` are injectable so the decisions can be tested without a
    network.
    """

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        proxied: bool = False,
        resolve_before_proxy: bool = False,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private_networks = allow_private_networks
        self.proxied = proxied
        self.resolve_before_proxy = resolve_before_proxy
        self._resolve = resolver
        self._inner: httpcore.AsyncNetworkBackend = inner or httpcore.AnyIOBackend()

    async def check_target(self, host: str, port: int, timeout: float | None = None) -> None:
        """Refuse a request's destination before anything is sent for it: an IP address
        in any spelling; through a proxy also names that mean this machine or the local
        network and, with ``resolve_before_proxy``, names any of whose answers here is
        forbidden. Direct names are judged at connect time (:meth:`connect_tcp`).
        Raises :class:`ForbiddenAddressError` or :class:`UnresolvableHostError`."""
        if self.allow_private_networks:
            return
        refusal = destination_refusal(host, proxied=self.proxied)
        if refusal is not None:
            raise ForbiddenAddressError(refusal)
        if not (self.proxied and self.resolve_before_proxy) or not resolves_locally(host):
            return
        if literal_address(host) is not None:
            return  # a public address
        name = normalize_host(host)
        try:
            answers = await self._answers(name, port, timeout)
        except UnresolvableHostError as exc:
            raise UnresolvableHostError(f"{exc} (network.resolve_before_proxy)") from exc
        refusal = answers_refusal(host, list(answers), proxied=True)
        if refusal is not None:
            raise ForbiddenAddressError(refusal)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.proxied:
            try:
                stream = await self._inner.connect_tcp(
                    host, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                raise ProxyUnreachableError(
                    f"cannot connect to the proxy {host}:{port}: {_describe(exc)}"
                ) from exc
            return GuardedStream(stream, ConnectionInfo(None, (), proxied=True))

        answers = tuple(await self._answers(host, port, timeout))
        allowed = self._allowed(host, answers)
        last: Exception | None = None
        for address in allowed:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # try the next checked answer, never the name itself
                continue
            return GuardedStream(stream, ConnectionInfo(address, answers))
        assert last is not None  # _allowed() never returns an empty list
        raise last

    async def _answers(self, host: str, port: int, timeout: float | None) -> Sequence[str]:
        if _is_ip(host):
            return [host]
        try:
            with anyio.fail_after(timeout):
                answers = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except socket.gaierror as exc:
            raise UnresolvableHostError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        except OSError as exc:
            raise UnresolvableHostError(f"cannot resolve {host}: {exc}") from exc
        if not answers:
            raise UnresolvableHostError(f"cannot resolve {host}: no addresses")
        return answers

    def _allowed(self, host: str, answers: Sequence[str]) -> list[str]:
        if self.allow_private_networks:
            return list(answers)
        allowed: list[str] = []
        refused: tuple[str, str] | None = None
        for address in answers:
            reason = forbidden_reason(address)
            if reason is None:
                allowed.append(address)
            elif refused is None:
                refused = (address, reason)
        if not allowed:
            assert refused is not None
            raise ForbiddenAddressError(refusal_message(host, *refused))
        return allowed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddressError("unix sockets are not used for captures")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _describe(exc: BaseException) -> str:
    """The most specific message behind an httpcore connect error: it wraps anyio's
    "All connection attempts failed", which wraps a group of the real OSErrors."""
    todo: list[BaseException] = [exc]
    seen: list[BaseException] = []
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        if isinstance(current, OSError) and current.errno:
            return os.strerror(current.errno)
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
    return str(exc) or type(exc).__name__
