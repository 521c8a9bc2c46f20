"""The interception and budget logic without a browser: a fake DevTools session records
what Chromium would have been told."""

from __future__ import annotations

import asyncio
import base64
import gzip
from datetime import UTC, datetime
from typing import Any

import pytest

from archiver.capture._browser_budget import Budget
from archiver.capture._browser_router import Router, request_head
from archiver.capture.browser import BrowserRequest
from archiver.capture.exchange import Body, Exchange, Failure, FailureKind


class FakeCdp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.sent.append((method, params or {}))
        return {}


def paused(n: int, url: str, kind: str = "Image", frame: str = "MAIN") -> dict[str, Any]:
    return {
        "requestId": f"r{n}",
        "networkId": f"n{n}",
        "frameId": frame,
        "resourceType": kind,
        "request": {"url": url, "method": "GET", "headers": {"Cookie": "s=1", "Accept": "*/*"}},
    }


def answer(request: BrowserRequest) -> Exchange:
    exchange = Exchange(request.url, request.method, b"", b"", datetime.now(UTC))
    if request.url.endswith("/dns"):
        exchange.failure = Failure(FailureKind.DNS, "nxdomain")
        return exchange
    if request.url.endswith("/guarded"):
        exchange.failure = Failure(FailureKind.FORBIDDEN_ADDRESS, "loopback")
        return exchange
    exchange.status, exchange.reason = 200, "OK"
    exchange.response_headers = [
        ("Content-Type", "text/html"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "99"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    exchange.body = Body.from_bytes(gzip.compress(b"<p>hello</p>"))
    return exchange


def make_router(cdp: FakeCdp, *, max_resources: int = 100, fetch: Any = None) -> Router:
    async def default(request: BrowserRequest) -> Exchange:
        return answer(request)

    router = Router(
        fetch or default,
        cdp,  # type: ignore[arg-type]
        max_resources=max_resources,
        max_body_bytes=1 << 20,
        clock=lambda: datetime.now(UTC),
        started=0.0,
    )
    router.main_frame_id = "MAIN"
    return router


async def drain() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_fulfils_decoded_body_and_keeps_headers() -> None:
    cdp = FakeCdp()
    router = make_router(cdp)
    router.on_paused(paused(1, "https://a.example/", "Document"))
    await drain()
    await router.stop()

    [(method, params)] = cdp.sent
    assert method == "Fetch.fulfillRequest" and params["responseCode"] == 200
    assert base64.b64decode(params["body"]) == b"<p>hello</p>"
    names = [h["name"] for h in params["responseHeaders"]]
    assert names == ["Content-Type", "Set-Cookie", "Set-Cookie"]
    [exchange] = router.exchanges()
    assert exchange.via == "browser" and exchange.resource_type == "document"
    assert exchange.body is not None and exchange.body.read() == gzip.compress(b"<p>hello</p>")
    assert router.main_document() == (0, ["https://a.example/"])


async def test_non_ascii_headers_go_as_raw_bytes() -> None:
    cdp = FakeCdp()
    raw_value = 'attachment; filename="отчёт.pdf"'.encode()

    async def fetch(request: BrowserRequest) -> Exchange:
        exchange = answer(request)
        exchange.response_headers = [("Content-Disposition", raw_value.decode("latin-1"))]
        return exchange

    router = make_router(cdp, fetch=fetch)
    router.on_paused(paused(1, "https://a.example/report"))
    await drain()

    [(_, params)] = cdp.sent
    assert "responseHeaders" not in params
    assert base64.b64decode(params["binaryResponseHeaders"]) == b"Content-Disposition: " + raw_value


@pytest.mark.parametrize(
    ("path", "reason"), [("dns", "NameNotResolved"), ("guarded", "AddressUnreachable")]
)
async def test_failures_become_chromium_errors(path: str, reason: str) -> None:
    cdp = FakeCdp()
    router = make_router(cdp)
    router.on_paused(paused(1, f"https://a.example/{path}"))
    await drain()
    assert cdp.sent == [("Fetch.failRequest", {"requestId": "r1", "errorReason": reason})]


async def test_max_resources_refuses_without_fetching() -> None:
    cdp = FakeCdp()
    fetched: list[str] = []

    async def fetch(request: BrowserRequest) -> Exchange:
        fetched.append(request.url)
        return answer(request)

    router = make_router(cdp, max_resources=2, fetch=fetch)
    for n in range(5):
        router.on_paused(paused(n, f"https://a.example/{n}.png"))
    await drain()
    await router.stop()
    router.finish()

    assert len(fetched) == 2 and len(router.exchanges()) == 2
    refused = [p for m, p in cdp.sent if m == "Fetch.failRequest"]
    assert {p["errorReason"] for p in refused} == {"BlockedByClient"} and len(refused) == 3
    assert router.limits_hit == ["max_resources: 2 requests, further requests aborted (3 refused)"]


async def test_stop_records_cut_requests_and_in_flight_counts() -> None:
    cdp = FakeCdp()
    release = asyncio.Event()

    async def slow(request: BrowserRequest) -> Exchange:
        await release.wait()
        return answer(request)

    router = make_router(cdp, fetch=slow)
    router.on_paused(paused(1, "https://a.example/slow", "Script"))
    router.on_paused(paused(2, "https://pop.example/", "Document", frame="POPUP"))
    await drain()
    assert router.in_flight() == 2
    router.ignored_frames.add("POPUP")
    assert router.in_flight() == 1 and router.quiet_for(1e9) == 0.0
    await router.stop()

    cut = router.exchanges()
    assert [e.failure.kind for e in cut if e.failure] == [FailureKind.TIMEOUT] * 2
    assert b"Cookie: [redacted]" in cut[0].request_head
    assert router.limits_hit == [
        "page_budget: 2 requests still in flight at the end were cancelled"
    ]


def test_request_head_redacts_secrets() -> None:
    request = BrowserRequest(
        url="https://a.example/p?q=1",
        method="POST",
        headers=[("Cookie", "sid=secret"), ("Authorization", "Bearer x"), ("Accept", "*/*")],
        post_body=b"x=1",
        resource_type="xhr",
        is_navigation=False,
        is_main_frame=False,
        frame_url="https://a.example/",
    )
    head = request_head(request)
    assert head.startswith(b"POST /p?q=1 HTTP/1.1\r\nHost: a.example\r\n")
    assert b"secret" not in head and b"Bearer" not in head and b"Accept: */*" in head


def test_budget_shares() -> None:
    big = Budget(start=0.0, deadline=60.0)
    assert big.artefacts_at == 45.0  # a quarter kept for the artefacts
    assert big.scroll_until(10.0) == 22.0
    small = Budget(start=0.0, deadline=8.0)
    assert small.artefacts_at == 5.0  # at least 3 s kept
    tiny = Budget(start=0.0, deadline=2.0)
    assert tiny.artefacts_at == 1.0  # half of a very small budget
    assert tiny.screenshot_timeout(1.9) == 2.0  # floors: still try the screenshot
    assert tiny.pdf_timeout(1.9) is None
    assert Budget(start=0.0, deadline=200.0).artefacts_at == 180.0  # at most 20 s
