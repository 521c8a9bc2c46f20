"""Why an exchange got no response: library errors and proxy answers -> FailureKind.

The kind decides what a re-check concludes (DESIGN: source states), so the mapping is
conservative: only what says something about the source maps to DNS or REFUSED; anything
about our own side (the proxy is down, our pool is exhausted) maps to PROXY or OTHER,
which never accuse a source.
"""

from __future__ import annotations

import errno
import os
import ssl

import httpcore

from archiver.capture.exchange import Failure, FailureKind
from archiver.net.backend import (
    ForbiddenAddressError,
    ProxyUnreachableError,
    UnresolvableHostError,
)
from archiver.net.politeness import HostBusyError

# Squid's error page codes (X-Squid-Error: <code> <errno>) by what they say of the origin.
SQUID_ERRORS: dict[str, FailureKind] = {
    "ERR_DNS_FAIL": FailureKind.DNS,
    "ERR_CONNECT_FAIL": FailureKind.REFUSED,
    "ERR_CONNECT_TIMEOUT": FailureKind.TIMEOUT,
    "ERR_READ_TIMEOUT": FailureKind.TIMEOUT,
    "ERR_LIFETIME_EXP": FailureKind.TIMEOUT,
    "ERR_ZERO_SIZE_OBJECT": FailureKind.RESET,
    "ERR_READ_ERROR": FailureKind.RESET,
    "ERR_WRITE_ERROR": FailureKind.RESET,
    "ERR_INVALID_RESP": FailureKind.PROTOCOL,
    "ERR_SECURE_CONNECT_FAIL": FailureKind.TLS,
}
_SQUID_TEXT = {
    FailureKind.DNS: "the proxy could not resolve the host",
    FailureKind.REFUSED: "the host refused the proxy's connection",
    FailureKind.TIMEOUT: "the host did not answer the proxy in time",
    FailureKind.RESET: "the host dropped the proxy's connection",
    FailureKind.PROTOCOL: "the host sent the proxy an invalid response",
    FailureKind.TLS: "the proxy's TLS handshake with the host failed",
    FailureKind.PROXY: "the proxy refused or failed the request",
}
# httpcore's SOCKS5 reply texts ("Proxy Server could not connect: <text>.").
_SOCKS_REPLIES = {
    "Connection refused": FailureKind.REFUSED,
    "Host unreachable": FailureKind.REFUSED,
    "Network unreachable": FailureKind.REFUSED,
    "TTL expired": FailureKind.TIMEOUT,
}


def squid_failure(squid_error: str, status: int, head: bytes) -> Failure:
    """The failure a proxy error answer stands for; its head is kept in the message."""
    code = squid_error.split()[0] if squid_error.split() else ""
    kind = SQUID_ERRORS.get(code, FailureKind.PROXY)
    shown = head.decode("latin-1").strip().replace("\r\n", "\n")
    return Failure(kind, f"{_SQUID_TEXT[kind]} ({code or status}); the proxy answered:\n{shown}")


def classify(exc: BaseException, *, target: str, proxied: bool) -> Failure:
    """The failure for an exception raised before any response head arrived."""
    if isinstance(exc, ForbiddenAddressError):
        return Failure(FailureKind.FORBIDDEN_ADDRESS, str(exc))
    if isinstance(exc, UnresolvableHostError):
        return Failure(FailureKind.DNS, str(exc))
    if isinstance(exc, ProxyUnreachableError):
        return Failure(FailureKind.PROXY, str(exc))
    if isinstance(exc, HostBusyError):
        return Failure(FailureKind.TIMEOUT, f"not sent: {exc}")
    if isinstance(exc, TimeoutError):
        return Failure(FailureKind.TIMEOUT, f"{target}: no response before the deadline")
    if isinstance(exc, httpcore.ProxyError):
        return _socks_failure(str(exc))
    if isinstance(exc, httpcore.PoolTimeout):
        return Failure.other(f"{target}: no free connection in our pool in time", exc)
    if isinstance(exc, httpcore.ConnectTimeout):
        return Failure(FailureKind.TIMEOUT, f"{target}: connecting timed out")
    if isinstance(exc, httpcore.ReadTimeout | httpcore.WriteTimeout):
        return Failure(FailureKind.TIMEOUT, f"{target}: no response in time")
    if isinstance(exc, httpcore.ConnectError):
        return _connect_failure(exc, target)
    if isinstance(exc, httpcore.ReadError | httpcore.WriteError):
        return Failure(FailureKind.RESET, f"{target}: connection lost: {_detail(exc)}")
    if isinstance(exc, httpcore.RemoteProtocolError):
        if "disconnected" in str(exc):
            return Failure(FailureKind.RESET, f"{target}: {exc}")
        return Failure(FailureKind.PROTOCOL, f"{target}: malformed response: {exc}")
    if isinstance(exc, httpcore.LocalProtocolError):
        return Failure(FailureKind.PROTOCOL, f"{target}: could not send the request: {exc}")
    if isinstance(exc, httpcore.UnsupportedProtocol):
        return Failure.other(target, exc)
    where = " (through the proxy)" if proxied else ""
    return Failure.other(f"{target}{where}", exc)


def dropped_unanswered(exc: BaseException, method: str) -> bool:
    """A GET or HEAD the server dropped without answering: worth sending once more when
    it went out on a kept-alive connection (the server closed it as we reused it)."""
    if method not in ("GET", "HEAD"):
        return False
    if isinstance(exc, httpcore.RemoteProtocolError):
        return "disconnected" in str(exc)  # "Server disconnected without sending a response."
    return isinstance(exc, httpcore.ReadError | httpcore.WriteError)


def _connect_failure(exc: httpcore.ConnectError, target: str) -> Failure:
    for link in _chain(exc):
        if isinstance(link, ssl.SSLError):
            reason = getattr(link, "reason", None) or link.strerror or str(link)
            return Failure(FailureKind.TLS, f"{target}: TLS handshake failed: {reason}")
        if isinstance(link, ConnectionRefusedError) or (
            isinstance(link, OSError) and link.errno == errno.ECONNREFUSED
        ):
            return Failure(FailureKind.REFUSED, f"{target}: connection refused")
    detail = _detail(exc)
    if any(isinstance(link, EOFError | ConnectionResetError) for link in _chain(exc)):
        return Failure(FailureKind.RESET, f"{target}: connection closed while connecting")
    if "EndOfStream" in detail or "BrokenResource" in detail:
        return Failure(FailureKind.RESET, f"{target}: connection closed while connecting")
    return Failure(FailureKind.REFUSED, f"{target}: cannot connect: {detail}")


def _socks_failure(message: str) -> Failure:
    for text, kind in _SOCKS_REPLIES.items():
        if text in message:
            return Failure(kind, f"the SOCKS proxy reports: {message}")
    return Failure(FailureKind.PROXY, f"the proxy refused the request: {message}")


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is seen for seen in out):
            continue
        out.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [a for a in current.args if isinstance(a, BaseException)]
        if isinstance(current, BaseExceptionGroup):  # anyio: "All connection attempts failed"
            todo += list(current.exceptions)
    return out


def _detail(exc: BaseException) -> str:
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno:
            return os.strerror(link.errno)
    for link in _chain(exc)[1:]:
        if str(link):
            return f"{type(link).__name__}: {link}"
    return str(exc) or type(exc).__name__
