"""A browser page's requests through the real fetcher at the default politeness (issue 20).

Politeness spaces page loads (the main frame's documents), not what one page load asks
for: a page's images from one host go several at once, as a reader's browser fetches
them; page loads of one host stay ``per_host_interval`` apart; a Retry-After still holds
that host, for the page's requests and for later pages. Told by events, not the clock:
the image host holds every answer until several requests are in flight at once, which
the page-load politeness (two at a time) would never allow.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from archiver.capture._browser_fetch import page_fetch
from archiver.capture._browser_types import BrowserRequest
from archiver.capture.exchange import FailureKind
from archiver.capture.http import Fetcher
from archiver.config import CaptureSettings
from tests.integration.http_capture.conftest import make_fetcher
from tests.simweb import SimulatedWeb, status
from tests.simweb.messages import Request

DEFAULTS = CaptureSettings()  # per_host_concurrency 2, per_host_interval 0.5 s
HOLD_UNTIL = 6  # the image host answers once this many requests are in flight...
HOLD_AT_MOST = 3.0  # ...or after this long (then the test fails on the peak)


def browser_request(url: str, *, main: bool, deadline: float | None = None) -> BrowserRequest:
    return BrowserRequest(
        url=url,
        method="GET",
        headers=[("Accept", "*/*")],
        post_body=b"",
        resource_type="document" if main else "image",
        is_navigation=main,
        is_main_frame=main,
        frame_url=None,
        deadline=deadline,
    )


def polite_fetcher(tmp_path: Path, web: SimulatedWeb) -> Fetcher:
    return make_fetcher(
        tmp_path,
        web,
        per_host_concurrency=DEFAULTS.per_host_concurrency,
        per_host_interval=DEFAULTS.per_host_interval,
    )


async def test_thirty_images_at_once_while_page_loads_stay_spaced(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    in_flight = peak = 0
    page_arrivals: list[float] = []

    async def image(request: Request) -> bytes:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        held_until = time.monotonic() + HOLD_AT_MOST
        while peak < HOLD_UNTIL and time.monotonic() < held_until:
            await asyncio.sleep(0.01)
        in_flight -= 1
        return b"\x89PNG image"

    def page(request: Request) -> str:
        page_arrivals.append(time.monotonic())
        return "<title>page</title>"

    for n in range(30):
        simweb.page(f"https://img.example/{n}.png", image, content_type="image/png")
    for n in range(2):
        simweb.page(f"https://news.example/{n}.html", page)

    async with polite_fetcher(tmp_path, simweb) as fetcher:
        fetch = page_fetch(fetcher)
        started = time.monotonic()
        images = await asyncio.gather(
            *(fetch(browser_request(f"https://img.example/{n}.png", main=False)) for n in range(30))
        )
        took = time.monotonic() - started
        # Two page loads of one host (two captures' navigations): still spaced.
        loads = await asyncio.gather(
            page_fetch(fetcher)(browser_request("https://news.example/0.html", main=True)),
            page_fetch(fetcher)(browser_request("https://news.example/1.html", main=True)),
        )
    assert [e.status for e in images] == [200] * 30
    assert all(e.via == "browser" and e.resource_type == "image" for e in images)
    assert peak == HOLD_UNTIL  # six at once for one page: more than the 2 a page load gets
    assert took < 15  # a backstop only: spaced 0.5 s apart they would take 14.5 s and more
    assert [e.status for e in loads] == [200, 200]
    first, second = sorted(page_arrivals)
    assert second - first >= DEFAULTS.per_host_interval - 0.1


async def test_retry_after_from_an_image_host_slows_its_later_requests(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    simweb.page("https://img.example/limited.png", status(429, headers={"Retry-After": "30"}))
    simweb.page("https://img.example/next.png", b"\x89PNG", content_type="image/png")
    simweb.page("https://img.example/page.html", "<title>a page of the image host</title>")
    simweb.page("https://other.example/free.png", b"\x89PNG", content_type="image/png")
    async with polite_fetcher(tmp_path, simweb) as fetcher:
        limited = await page_fetch(fetcher)(
            browser_request("https://img.example/limited.png", main=False)
        )
        assert limited.status == 429  # the answer itself is the evidence
        until = fetcher.limiter.deferred_until("img.example")
        assert until is not None and until > time.monotonic() + 20

        deadline = time.monotonic() + 5  # a page budget ending before the deferral
        same_page = page_fetch(fetcher)
        refused = await same_page(
            browser_request("https://img.example/next.png", main=False, deadline=deadline)
        )
        later_page = await page_fetch(fetcher)(
            browser_request("https://img.example/page.html", main=True, deadline=deadline)
        )
        other = await same_page(
            browser_request("https://other.example/free.png", main=False, deadline=deadline)
        )
    for exchange in (refused, later_page):
        assert exchange.failure is not None and exchange.failure.kind is FailureKind.TIMEOUT
        assert "Retry-After" in exchange.failure.message
    assert time.monotonic() < deadline  # refused at once, not after waiting
    assert simweb.hits("https://img.example/next.png") == 0
    assert simweb.hits("https://img.example/page.html") == 0
    assert other.status == 200  # other hosts never wait
