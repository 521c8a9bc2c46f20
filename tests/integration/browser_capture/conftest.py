"""Browser-capture fixtures: a pool on Debian's Chromium and a test-double fetcher.

``SimwebFetch`` is a TEST DOUBLE for the real fetcher (archiver.capture.http.Fetcher):
it turns each BrowserRequest into one Exchange through the simulated web with httpx,
keeping the body as sent (``aiter_raw``: Content-Encoding kept), and maps the simulated
proxy's failures to FailureKind. It has none of the real fetcher's guard, politeness or
limits, and it is deliberately small: these tests are about the browser side.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.capture.browser import BrowserPool, BrowserRequest
from archiver.capture.decode import ACCEPT_ENCODING
from archiver.capture.exchange import Body, Exchange, Failure, FailureKind
from archiver.config import CaptureSettings, NetworkSettings
from tests.simweb import SimulatedWeb
from tests.simweb.fixtures import simweb  # noqa: F401 - re-exported fixture

CHROMIUM = Path("/usr/bin/chromium")

# For the modules that start Chromium: ``pytestmark = [pytest.mark.slow, needs_chromium]``.
needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="Debian's Chromium is not installed"
)

# Headers Chromium's network stack would set; httpx sets its own.
_NOT_FORWARDED = {"host", "connection", "accept-encoding", "content-length"}


def _head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first_line, *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


class SimwebFetch:
    """TEST DOUBLE of the real fetcher: one BrowserRequest -> one Exchange via simweb."""

    def __init__(self, web: SimulatedWeb) -> None:
        self.client = httpx.AsyncClient(
            proxy=web.proxy_url, verify=web.ssl_context_for_clients(), timeout=10.0
        )
        self.requests: list[BrowserRequest] = []

    async def __call__(self, request: BrowserRequest) -> Exchange:
        self.requests.append(request)
        headers = [(k, v) for k, v in request.headers if k.lower() not in _NOT_FORWARDED]
        headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        exchange = Exchange(
            url=request.url,
            method=request.method,
            request_head=_head(f"{request.method} {request.url} HTTP/1.1", headers),
            request_body=request.post_body,
            started_at=datetime.now(UTC),
        )
        try:
            async with self.client.stream(
                request.method, request.url, headers=headers, content=request.post_body or None
            ) as response:
                body = Body()
                async for chunk in response.aiter_raw():
                    body.write(chunk)
        except httpx.ProxyError as exc:  # https: the proxy refused the CONNECT
            kind = FailureKind.DNS if "503" in str(exc) else FailureKind.REFUSED
            exchange.failure = Failure(kind, str(exc))
            return exchange
        except httpx.TimeoutException as exc:
            exchange.failure = Failure(FailureKind.TIMEOUT, str(exc))
            return exchange
        except httpx.HTTPError as exc:
            exchange.failure = Failure(FailureKind.OTHER, str(exc))
            return exchange
        squid = response.headers.get("x-squid-error", "")
        if squid.startswith(("ERR_DNS_FAIL", "ERR_CONNECT_FAIL")):  # plain http via proxy
            kind = FailureKind.DNS if squid.startswith("ERR_DNS") else FailureKind.REFUSED
            exchange.failure = Failure(kind, squid)
            return exchange
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        exchange.status = response.status_code
        exchange.reason = response.reason_phrase
        exchange.response_headers = pairs
        exchange.response_head = _head(
            f"HTTP/1.1 {response.status_code} {response.reason_phrase}", pairs
        )
        exchange.body = body
        return exchange

    async def close(self) -> None:
        await self.client.aclose()

    def urls(self) -> list[str]:
        return [r.url for r in self.requests]


@pytest.fixture
async def fetch(simweb: SimulatedWeb) -> AsyncIterator[SimwebFetch]:  # noqa: F811
    double = SimwebFetch(simweb)
    yield double
    await double.close()


@pytest.fixture
def make_pool() -> Callable[..., BrowserPool]:
    """A pool factory: keyword arguments override CaptureSettings."""

    def build(**capture: Any) -> BrowserPool:
        return BrowserPool(
            CaptureSettings(browser=CHROMIUM, **capture),
            NetworkSettings(user_agent="Mozilla/5.0 (X11; Linux x86_64) evidence-archiver-test"),
        )

    return build


@pytest.fixture
async def pool(make_pool: Callable[..., BrowserPool]) -> AsyncIterator[BrowserPool]:
    async with make_pool(page_budget=20.0) as opened:
        yield opened


def deadline(seconds: float = 20.0) -> float:
    return time.monotonic() + seconds
