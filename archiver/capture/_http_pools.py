"""Connection pools, one small httpcore pool per origin.

httpcore's pool rescans every connection (and polls every idle socket) each time a
request starts or ends, and counts idle connections once per idle connection: its cost
grows with the square of the pool size. One pool for hundreds of concurrent requests over
many hosts spends most of its time there (measured: 45 requests/s instead of hundreds).
Requests to one host are already bounded by the politeness limiter, so a pool per origin
stays tiny (at most ``per_origin`` connections) and keeps reuse where it matters.

Pools of origins not used for ``idle_expiry`` seconds are closed, and at most
``max_idle_origins`` idle pools are kept, so a long run over thousands of hosts does not
hold thousands of sockets.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

# (verified, scheme, host, port): unverified connections never serve verified requests.
OriginKey = tuple[bool, str, str, int]
PoolFactory = Callable[[OriginKey, int], httpcore.AsyncConnectionPool]

_SWEEP_EVERY = 5.0
_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass
class _Entry:
    pool: httpcore.AsyncConnectionPool
    users: int = 0
    last_used: float = 0.0


class OriginPools:
    def __init__(
        self,
        factory: PoolFactory,
        *,
        per_origin: int,
        idle_expiry: float = 15.0,
        max_idle_origins: int = 256,
    ) -> None:
        self._factory = factory
        self._per_origin = per_origin
        self._idle_expiry = idle_expiry
        self._max_idle = max_idle_origins
        self._entries: dict[OriginKey, _Entry] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY

    @asynccontextmanager
    async def pool(self, key: OriginKey) -> AsyncIterator[httpcore.AsyncConnectionPool]:
        """The origin's pool, held for one request (body included)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(self._factory(key, self._per_origin))
        entry.users += 1
        try:
            yield entry.pool
        finally:
            entry.users -= 1
            entry.last_used = time.monotonic()
        if entry.last_used >= self._next_sweep or len(self._entries) > 2 * self._max_idle:
            await self._sweep()

    async def _sweep(self) -> None:
        now = time.monotonic()
        self._next_sweep = now + _SWEEP_EVERY
        idle = sorted(
            ((e.last_used, k) for k, e in self._entries.items() if e.users == 0),
            reverse=True,
        )
        # Remove first, close after: a request arriving during a close gets a new pool.
        closing = [
            self._entries.pop(key)
            for rank, (last_used, key) in enumerate(idle)
            if rank >= self._max_idle or last_used + self._idle_expiry < now
        ]
        for entry in closing:
            await entry.pool.aclose()

    async def aclose(self) -> None:
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await entry.pool.aclose()


def make_pool(
    *,
    proxy: str,
    ssl_context: ssl.SSLContext | None,
    connections: int,
    backend: httpcore.AsyncNetworkBackend,
    keepalive_expiry: float = 15.0,
) -> httpcore.AsyncConnectionPool:
    """A pool for one origin: direct, or through the http(s)/socks5 ``proxy`` (the
    network.proxy setting; credentials in it become Proxy-Authorization / SOCKS auth and
    never appear in a stored request head). ``ssl_context``: None for an ``http://``
    origin, which needs none."""
    common: dict[str, Any] = {
        "ssl_context": ssl_context,
        "max_connections": connections,
        "max_keepalive_connections": connections,
        "keepalive_expiry": keepalive_expiry,
        "network_backend": backend,
    }
    if not proxy:
        return httpcore.AsyncConnectionPool(**common)
    url = httpx.URL(proxy)
    port = url.port or _PROXY_PORTS.get(url.scheme, 80)
    host = url.netloc.decode("ascii").rsplit("@", 1)[-1]
    proxy_url = f"{url.scheme}://{host}" + ("" if url.port else f":{port}")
    auth = (url.username, url.password) if url.username else None
    if url.scheme.startswith("socks5"):
        return httpcore.AsyncSOCKSProxy(proxy_url=proxy_url, proxy_auth=auth, **common)
    return httpcore.AsyncHTTPProxy(
        proxy_url=proxy_url,
        proxy_auth=auth,
        proxy_ssl_context=ssl.create_default_context() if url.scheme == "https" else None,
        **common,
    )
