"""Pages that fight back: endless polling, failing hosts, too many resources, huge
heights, dialogs, popups and downloads. The capture ends in time and says what happened."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable

import pytest

from archiver.capture._browser_budget import DOM_FLOOR, SCREENSHOT_FLOOR
from archiver.capture.browser import BrowserPool
from archiver.capture.exchange import FailureKind
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import SimulatedWeb, hang

pytestmark = [pytest.mark.slow, needs_chromium]

POLLING = """<title>live blog</title><p>Updates every 100 ms.</p><script>
  let n = 0;
  setInterval(() => fetch('/poll', {cache: 'no-store'})
      .then(r => r.text()).then(t => { document.title = 'live blog ' + (++n); }), 100);
</script>"""


async def test_never_idle_page_ends_within_budget(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    simweb.page("https://live.example/", POLLING)
    simweb.page("https://live.example/poll", "tick", content_type="text/plain")
    budget = 8.0
    async with make_pool(page_budget=budget) as pool:
        started = time.monotonic()
        result = await pool.capture_page("https://live.example/", fetch, deadline=started + budget)
        took = time.monotonic() - started

    # The budget, not the network going idle, ended the wait (it never went idle).
    [settle] = [line for line in result.limits_hit if line.startswith("page_budget: reached")]
    assert settle.startswith("page_budget: reached during settle")
    assert settle.endswith("the network never went idle)")
    # ... early enough to leave the artefacts their slice of the budget: navigation,
    # scrolling and settling stopped before the deadline (at Budget.artefacts_at, 2 to
    # 3 s before it here), with all that slice to spare for a slow loop.
    assert (
        result.timings["navigation"] + result.timings["scroll"] + result.timings["settle"] < budget
    )
    assert result.screenshot_png and result.dom_html and result.pdf
    # The artefacts may overrun the deadline by their floors (_browser_budget); a loaded
    # machine gets a few seconds more. Waiting for idle would never have ended.
    assert took < budget + SCREENSHOT_FLOOR + DOM_FLOOR + 3.0
    # The page kept polling, and every poll it completed is recorded: its own count, in
    # the title of the DOM taken at the end, is at most the number of /poll exchanges.
    # (Counted by events, not per second: a loaded machine runs fewer timers.)
    title = re.search(rb"<title>live blog (\d+)</title>", result.dom_html)
    assert title is not None, result.dom_html[:300]
    polls = [e for e in result.exchanges if e.url.endswith("/poll")]
    assert len(polls) >= int(title[1]) >= 2


async def test_dns_failure_of_the_main_document(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    simweb.dns_failure("gone.example")

    result = await pool.capture_page("https://gone.example/post/1", fetch, deadline=deadline())

    assert result.main_status is None
    assert result.error == "net::ERR_NAME_NOT_RESOLVED"
    main = result.main_exchange
    assert main is not None and main.failure is not None
    assert main.failure.kind is FailureKind.DNS and main.url == "https://gone.example/post/1"
    assert result.final_url == "https://gone.example/post/1"
    assert result.screenshot_png is None and result.dom_html is None and result.pdf is None


async def test_refused_connection_and_hanging_host(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    simweb.connection_refused("down.example")
    simweb.page("https://stuck.example/", hang())
    async with make_pool(page_budget=4.0) as pool:
        refused = await pool.capture_page("http://down.example/", fetch, deadline=deadline())
        started = time.monotonic()
        stuck = await pool.capture_page("https://stuck.example/", fetch, deadline=started + 4.0)
        took = time.monotonic() - started

    assert refused.error == "net::ERR_CONNECTION_REFUSED" and refused.main_status is None
    assert refused.main_exchange and refused.main_exchange.failure
    assert refused.main_exchange.failure.kind is FailureKind.REFUSED
    # The main document never came: cut by the budget (generously: the fetch's own
    # timeout, 10 s, would have ended it otherwise), recorded as a timed-out exchange.
    assert took < 4.0 + 3.0 and stuck.main_status is None and stuck.error
    assert stuck.main_exchange and stuck.main_exchange.failure
    assert stuck.main_exchange.failure.kind is FailureKind.TIMEOUT
    assert any("main document not received" in line for line in stuck.limits_hit)


async def test_max_resources(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    images = "".join(f'<img src="/img/{n}.png" width=5 height=5>' for n in range(20))
    simweb.page("https://gallery.example/", f"<title>gallery</title>{images}")
    for n in range(20):
        simweb.page(f"https://gallery.example/img/{n}.png", b"\x89PNG", content_type="image/png")
    async with make_pool(max_resources=5) as pool:
        result = await pool.capture_page("https://gallery.example/", fetch, deadline=deadline())

    assert result.main_status == 200 and len(result.exchanges) == 5
    assert len(simweb.requests) == 5 and len(fetch.requests) == 5
    [line] = [line for line in result.limits_hit if line.startswith("max_resources")]
    assert line.startswith("max_resources: 5 requests, further requests aborted (")
    assert result.screenshot_png and result.dom_html


async def test_very_tall_page_screenshot_is_clipped(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    simweb.page(
        "https://tall.example/",
        '<title>tall</title><body style="margin:0"><div style="height:60000px">x</div></body>',
    )
    async with make_pool(screenshot_max_height=20000) as pool:
        result = await pool.capture_page("https://tall.example/", fetch, deadline=deadline(30))

    png = result.screenshot_png or b""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (result.viewport["width"], 20000)
    assert "screenshot clipped to 20000 px of 60000" in result.limits_hit


DIALOGS = """<title>noisy</title><p>Content under the noise.</p>
<a id=file href="/report.bin">report</a>
<script>
  alert('Subscribe to our newsletter!');
  window.open('https://ads.example/popup', '_blank');
  setTimeout(() => { location.href = '/report.bin'; }, 50);
</script>"""


async def test_dialogs_popups_and_downloads(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    simweb.page("https://noisy.example/", DIALOGS)
    simweb.page("https://ads.example/popup", "<title>ad</title><script>alert('ad')</script>")
    simweb.page(
        "https://noisy.example/report.bin",
        b"binary",
        headers={"Content-Disposition": "attachment; filename=report.bin"},
        content_type="application/octet-stream",
    )

    result = await pool.capture_page("https://noisy.example/", fetch, deadline=deadline())

    assert result.main_status == 200 and result.final_url == "https://noisy.example/"
    assert "Content under the noise." in (result.dom_html or b"").decode()
    by_type = {e["type"]: e for e in result.events}
    assert by_type["dialog"]["dialog_type"] == "alert"
    assert by_type["dialog"]["message"] == "Subscribe to our newsletter!"
    assert by_type["popup"]["url"] == "https://ads.example/popup"
    assert by_type["popup"]["action"] == "closed"
    assert by_type["download_refused"]["url"] == "https://noisy.example/report.bin"
    assert result.screenshot_png and result.pdf
