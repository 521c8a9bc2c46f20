"""Pages that never give the browser back: a script stuck in an endless loop, and a page
asking for thousands of resources. The capture still makes what it promises, and says
what it did; nothing is left behind as a stray traceback."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import pytest

from archiver.capture.browser import BrowserPool
from archiver.config import CaptureSettings
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import SimulatedWeb, gzip_bomb

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.mark.parametrize(
    "script",
    [
        "for (;;) {}",  # while the document is parsed: no load event ever
        "addEventListener('load', () => setTimeout(() => { for (;;) {} }, 50));",  # after load
    ],
)
async def test_page_stuck_in_javascript_still_gets_screenshot_and_dom(
    script: str,
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
) -> None:
    simweb.page(
        "https://stuck.example/",
        f"<title>Stuck</title><h1>Evidence text</h1><script>{script}</script>",
    )
    async with make_pool(page_budget=10.0) as pool:
        result = await pool.capture_page("https://stuck.example/", fetch, deadline=deadline(10))
    assert result.main_status == 200
    assert result.screenshot_png, result.limits_hit
    assert result.dom_html is not None and b"Evidence text" in result.dom_html
    assert any("terminated" in line for line in result.limits_hit), result.limits_hit


async def test_thousands_of_subresources_leave_no_stray_traceback(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Finding: 10,000 subresources, the limit works but stderr gets 950 tracebacks
    ("Task exception was never retrieved … _Slot._refuse … AssertionError")."""
    images = "".join(f'<img src="/i/{n}.png" width=1 height=1>' for n in range(3000))
    simweb.page("https://many.example/", f"<title>many</title>{images}")
    caplog.set_level(logging.ERROR, logger="asyncio")
    async with make_pool(max_resources=20) as pool:
        result = await pool.capture_page("https://many.example/", fetch, deadline=deadline())
        # The next capture in the same Chromium, while late requests of the last arrive.
        simweb.page("https://many.example/2", "<title>two</title>")
        await pool.capture_page("https://many.example/2", fetch, deadline=deadline())
    gc.collect()
    assert any(line.startswith("max_resources: 20 requests") for line in result.limits_hit)
    assert "Task exception was never retrieved" not in caplog.text


async def test_gzip_bomb_is_rendered_only_up_to_the_browser_limit(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
) -> None:
    """Finding: a 1 GiB gzip bomb was decoded for the browser up to max_response_bytes
    (100 MiB), passed through Playwright's driver as base64: over a gigabyte at peak
    (bench/browser_bomb_bench.py). The browser now gets capture.browser_max_body_bytes
    of it, and the capture says so."""
    simweb.page("https://bomb.example/", gzip_bomb())
    limit = CaptureSettings().browser_max_body_bytes
    async with make_pool(page_budget=20.0) as pool:
        result = await pool.capture_page("https://bomb.example/", fetch, deadline=deadline(20))
    assert result.main_status == 200
    assert any(
        line.startswith("max_response_bytes: https://bomb.example/ decoded for the browser")
        and line.endswith(f"up to {limit} bytes")
        for line in result.limits_hit
    ), result.limits_hit
    assert result.dom_html is not None and len(result.dom_html) <= limit * 2
