"""One HTTP exchange as it happened on the wire: the unit every capture is made of.

The HTTP fetcher produces these, the browser capture produces them (every request a
page makes is routed through the same fetcher), and the snapshot writer turns each into
a WARC request/response pair. An exchange that failed before any response (DNS failure,
refused connection, TLS handshake failure, timeout, refused private address) is an
exchange too, with ``failure`` set: failure is evidence.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO


class FailureKind(StrEnum):
    """Why an exchange got no (complete) response. Decides the source's observed state."""

    DNS = "dns"  # the name does not resolve (NXDOMAIN, or the proxy says ERR_DNS_FAIL)
    REFUSED = "refused"  # connection refused / proxy ERR_CONNECT_FAIL
    TIMEOUT = "timeout"  # connect or read timed out
    RESET = "reset"  # connection reset or closed mid-response
    TLS = "tls"  # handshake failed (not: certificate did not verify, that is captured)
    PROTOCOL = "protocol"  # malformed HTTP
    PROXY = "proxy"  # our own proxy is unreachable: says nothing about the source
    FORBIDDEN_ADDRESS = "forbidden-address"  # private/loopback/metadata address refused
    TOO_MANY_REDIRECTS = "too-many-redirects"
    # The browser displayed nothing of the page and no request for it was answered or
    # failed on the network (its navigation was refused, or never started: the page
    # budget was spent, the browser crashed). Says nothing about the source.
    BROWSER = "browser"
    # Nothing above fits: always with the exception behind it (``Failure.other``).
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    """Why an exchange got no (complete) response. ``message`` is the detail shown
    everywhere the failure is (``failure_detail``); a failure of kind OTHER carries the
    exception behind it, ``ClassName: message``, in ``exception`` and in ``message``,
    so an unforeseen failure never shows as a bare "other"."""

    kind: FailureKind
    message: str
    exception: str | None = None

    def __post_init__(self) -> None:
        if self.kind is FailureKind.OTHER and not (
            self.exception and self.exception in self.message
        ):
            raise ValueError(
                "a failure of kind 'other' needs the exception behind it: use Failure.other"
            )

    @classmethod
    def other(cls, context: str, exc: BaseException) -> Failure:
        """A failure no specific kind fits: ``context``, then the exception's class and
        message."""
        exception = exception_text(exc)
        return cls(FailureKind.OTHER, f"{context}: {exception}", exception)


def exception_text(exc: BaseException) -> str:
    """``ClassName: message`` (the class alone when the message is empty)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class TlsInfo:
    """What the TLS handshake showed. ``verified`` False means the certificate did not
    verify against the trusted roots and the capture went on anyway (recorded)."""

    version: str | None
    cipher: str | None
    verified: bool
    verify_error: str | None
    # Peer certificate chain, leaf first, PEM. May hold only the leaf where the Python
    # runtime cannot expose the chain.
    peer_chain_pem: tuple[str, ...] = ()


class Body:
    """A response body kept as received (content-encoding kept, transfer framing
    removed), spooled to disk past a threshold so a 1 GB video never sits in memory.
    Its size is counted while it is written; its sha256 is computed when first asked
    for (the WARC writer hashes the bytes anyway, off the event loop).

    Up to the threshold the pieces are kept as they arrived, in a list: no copy into
    a buffer and none out of it when the WARC writer reads them back."""

    _MEMORY_LIMIT = 1024 * 1024

    def __init__(self, spool_dir: Path | None = None) -> None:
        self._spool_dir = spool_dir
        self._pieces: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._sha256: str | None = None
        self.size = 0
        self._closed = False

    @classmethod
    def from_bytes(cls, data: bytes) -> Body:
        body = cls()
        body.write(data)
        return body

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        self._sha256 = None
        self.size += len(chunk)
        if self._file is None:
            if self.size <= self._MEMORY_LIMIT:
                self._pieces.append(chunk)
                return
            folder = None if self._spool_dir is None else str(self._spool_dir)
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - owned
            for piece in self._pieces:
                self._file.write(piece)
            self._pieces = []
        self._file.write(chunk)

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The bytes from the start, in chunks (may be called more than once)."""
        if self._file is None:
            yield from list(self._pieces)
            return
        self._file.seek(0)
        while chunk := self._file.read(size):
            yield chunk
        self._file.seek(0, os.SEEK_END)

    def read(self, limit: int | None = None) -> bytes:
        """Up to ``limit`` bytes from the start (all when None): for small bodies only."""
        if self._file is None:
            data = b"".join(self._pieces)
            return data if limit is None else data[:limit]
        self._file.seek(0)
        data = self._file.read() if limit is None else self._file.read(limit)
        self._file.seek(0, os.SEEK_END)
        return data

    @property
    def on_disk(self) -> bool:
        """True once the body outgrew memory and was spooled to a file."""
        return self._file is not None

    def close(self) -> None:
        if not self._closed:
            if self._file is not None:
                self._file.close()
            self._pieces = []
            self._closed = True


@dataclass
class Exchange:
    """A request and what came back (or why nothing did)."""

    url: str
    method: str
    # Request line and headers as sent (HTTP/1.1 form; secrets already redacted).
    request_head: bytes
    request_body: bytes
    started_at: datetime
    # The response: None when there was none (see ``failure``).
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    # Status line and headers as received (HTTP/1.1 form), ending in CRLF CRLF.
    response_head: bytes | None = None
    # Header pairs as received, in order (convenience for callers; same as the head).
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body | None = None
    # "length" (a size limit cut it), "time" (a time budget), "disconnect" (the peer
    # went away): the WARC-Truncated value. None: complete.
    truncated: str | None = None
    ip_address: str | None = None
    # Addresses the resolver answered for the host (empty through a proxy).
    resolver_answers: tuple[str, ...] = ()
    tls: TlsInfo | None = None
    # Seconds from start: "connected", "headers", "done" where known.
    timings: dict[str, float] = field(default_factory=dict)
    failure: Failure | None = None
    # "http" for the plain capture, "browser" for requests a page made.
    via: str = "http"
    # Resource type the browser gave (document, script, xhr, image, ...), if any.
    resource_type: str | None = None
    # Names of request headers whose values were replaced by "[redacted]" in
    # ``request_head`` (Cookie, Authorization, Proxy-Authorization): sent, never stored.
    redacted_headers: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status is not None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.response_headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def location(self) -> str | None:
        """The redirect target, when this is a redirect."""
        if self.status is not None and 300 <= self.status < 400:
            return self.header("location")
        return None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
