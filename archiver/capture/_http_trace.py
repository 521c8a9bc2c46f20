"""What httpcore reports while it handles one request (its ``trace`` extension).

Two things are only visible there: when a new connection was established (timings),
and the proxy's answer to a refused CONNECT, whose head httpcore's ProxyError drops
(the X-Squid-Error header in it says whether the origin's name failed to resolve or
its host refused).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RawHeaders = list[tuple[bytes, bytes]]


class RequestTrace:
    """Callable given as the request's ``trace`` extension."""

    __slots__ = ("_method", "connect_head", "connected", "on_tls", "t0", "tls")

    def __init__(self, t0: float, on_tls: Callable[[], None] | None = None) -> None:
        self.t0 = t0
        self.on_tls = on_tls  # called once a TLS handshake succeeded
        self.connected: float | None = None
        self.tls: float | None = None
        self.connect_head: tuple[bytes, int, bytes, RawHeaders] | None = None
        self._method = b""

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith("connect_tcp.complete"):
            self.connected = time.monotonic() - self.t0
        elif name.endswith("start_tls.complete"):
            self.tls = time.monotonic() - self.t0
            if self.on_tls is not None:
                self.on_tls()
        elif name == "http11.send_request_headers.started":
            self._method = info["request"].method
        elif name == "http11.receive_response_headers.complete" and self._method == b"CONNECT":
            version, status, reason, headers, *_ = info["return_value"]
            self.connect_head = (version, status, reason, list(headers))
