"""Fetching a report's web page (or file), or a feed, by URL: within size and time limits,
and only where the address guard allows.

Every hop of a redirect chain is judged by the guard (:mod:`archiver.net.guard`) before
anything is sent for it, direct or through ``network.proxy``; connections go through
:class:`~archiver.net.backend.GuardedBackend`, which without a proxy connects only to an
address it checked (no DNS rebinding between check and connect). The whole fetch,
redirects, proxy handshake and body included, ends at ``deadline`` seconds whatever the
server or proxy does: ``network.timeout`` alone is per read, and a server sending one
byte at a time never trips it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from archiver.config import NetworkSettings
from archiver.errors import FetchError, NetworkError, ReportTooLargeError
from archiver.net.backend import GuardedBackend

T = TypeVar("T")

_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
_TRANSPORT_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


@dataclass(frozen=True)
class FetchedReport:
    data: bytes
    content_type: str | None
    final_url: str
    status: int


def fetch_report(
    url: str, network: NetworkSettings, *, max_bytes: int, deadline: float
) -> FetchedReport:
    """GET ``url`` following redirects; the body is read up to ``max_bytes``, and the
    whole fetch takes at most ``deadline`` seconds (``harvest.fetch_deadline``).
    Raises :class:`FetchError` (or :class:`ReportTooLargeError`)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"{url}: not an http(s) URL")
    return _run(_fetch(url, network, max_bytes, deadline))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on an event loop of its own (in a thread of its own when this
    thread already runs one). Closing the loop does not wait for a resolver thread
    still stuck in getaddrinfo: the deadline is kept."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:

        def elsewhere() -> T:
            return _run(coro)

        with ThreadPoolExecutor(1, thread_name_prefix="fetch-report") as pool:
            return pool.submit(elsewhere).result()
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in leftover:
                task.cancel()
            if leftover:
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _fetch(
    url: str, network: NetworkSettings, max_bytes: int, deadline: float
) -> FetchedReport:
    backend = GuardedBackend(
        allow_private_networks=network.allow_private_networks,
        proxied=bool(network.proxy),
        resolve_before_proxy=network.resolve_before_proxy,
    )
    client = httpx.AsyncClient(
        transport=_PoolTransport(_pool(network, backend)),
        timeout=network.timeout,
        follow_redirects=False,
        headers={"User-Agent": network.user_agent},
    )
    try:
        with anyio.fail_after(deadline):
            return await _follow(client, backend, url, network, max_bytes)
    except TimeoutError as exc:
        raise FetchError(
            f"{url}: not fetched within {deadline:g}s (harvest.fetch_deadline)"
        ) from exc
    except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
        raise FetchError(f"{url}: timed out after {network.timeout:g}s") from exc
    except _TRANSPORT_ERRORS as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        with anyio.move_on_after(5, shield=True):
            await client.aclose()


async def _follow(
    client: httpx.AsyncClient,
    backend: GuardedBackend,
    url: str,
    network: NetworkSettings,
    max_bytes: int,
) -> FetchedReport:
    current = url
    for hop in range(network.max_redirects + 1):
        where = url if hop == 0 else f"{url}: redirected to {current}"
        target = httpx.URL(current)
        if target.scheme not in ("http", "https") or not target.host:
            raise FetchError(f"{where}: not an http(s) URL")
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            await backend.check_target(target.host, port, network.timeout)
            async with client.stream("GET", target) as response:
                if response.is_redirect and "location" in response.headers:
                    current = str(response.url.join(response.headers["location"]))
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"{url}: the server answered HTTP {response.status_code}")
                body = await _read_capped(response, max_bytes, url)
                return FetchedReport(
                    body,
                    response.headers.get("content-type"),
                    str(response.url),
                    response.status_code,
                )
        except NetworkError as exc:  # refused by the guard, unresolvable, proxy down
            raise FetchError(f"{where}: {exc}") from exc
    raise FetchError(f"{url}: more than {network.max_redirects} redirects")


async def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ReportTooLargeError(
            f"{url}: {int(declared)} bytes, over the {max_bytes} byte limit (harvest.max_report_bytes)"
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ReportTooLargeError(
                f"{url}: more than {max_bytes} bytes (harvest.max_report_bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# -- httpx over an httpcore pool with the guarded backend ----------------------------------


def _pool(network: NetworkSettings, backend: GuardedBackend) -> httpcore.AsyncConnectionPool:
    """Direct, or through the http(s)/socks5 proxy (its credentials as proxy auth)."""
    common: dict[str, Any] = {
        "ssl_context": httpx.create_ssl_context(),
        "max_connections": 4,
        "network_backend": backend,
    }
    if not network.proxy:
        return httpcore.AsyncConnectionPool(**common)
    url = httpx.URL(network.proxy)
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


class _PoolTransport(httpx.AsyncBaseTransport):
    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._response.aiter_stream():
            yield part

    async def aclose(self) -> None:
        await self._response.aclose()
