"""Large bodies reach Chromium over the body server's loopback socket, not base64 through
Playwright's driver (capture/_browser_bodies.py). Finding: a 1 GiB gzip bomb, cut to
16 MiB for the browser, still cost Playwright's driver 405 MiB and the archiver's
process 199 MiB (docs/benchmarks.md). What the page sees must not change: its address,
its responses' addresses, cookies, whole bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from archiver.capture._browser_bodies import STREAM_BYTES, BodyServer, Delivery
from archiver.capture.browser import BrowserPool
from archiver.capture.exchange import Body, Exchange
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import SimulatedWeb, gzip_bomb

pytestmark = [pytest.mark.slow, needs_chromium]

BIG = STREAM_BYTES * 3


async def test_large_document_script_and_data_reach_the_page_whole_at_their_own_address(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    # Large, but cheap to lay out (a screenshot of 780 KB of text misses the budget on
    # a loaded machine).
    filler = "<!-- " + "evidence " * (BIG // 9) + "-->"
    script = "var pad = '" + "x" * BIG + "'; document.title = 'script ran ' + pad.length;"
    data = json.dumps({"pad": "y" * BIG, "end": "last record"})
    page = f"""<title>big</title>{filler}<script src="/big.js"></script><script>
      fetch('/big.json').then(r => r.json().then(j => document.body.insertAdjacentHTML(
        'beforeend', '<p id=seen>' + r.url + ' ' + j.end + ' ' + location.href + '</p>')));
    </script><p id=end>END OF DOCUMENT</p>"""
    simweb.page("https://big.example/", page)
    simweb.page("https://big.example/big.js", script, content_type="text/javascript")
    simweb.page("https://big.example/big.json", data, content_type="application/json")

    async with make_pool(page_budget=20.0) as pool:
        result = await pool.capture_page("https://big.example/", fetch, deadline=deadline())
        streamed, waiting = pool.bodies_streamed, pool.bodies_waiting

    assert result.main_status == 200 and result.final_url == "https://big.example/"
    assert result.title == f"script ran {BIG}"
    dom = (result.dom_html or b"").decode()
    assert "END OF DOCUMENT" in dom
    assert "https://big.example/big.json last record https://big.example/" in dom, (
        "the page saw another address than the cited one"
    )
    assert result.screenshot_png
    assert streamed == 3  # document, script and data: none through the driver
    assert waiting == 0
    assert not [line for line in result.limits_hit if "max_response_bytes" in line]


async def test_a_large_response_setting_a_cookie_keeps_it_for_its_own_site(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    """Chromium would file a cookie set by the body server's answer under its address:
    such responses keep the DevTools path, and the page reads its cookie."""
    simweb.page(
        "https://cookie.example/",
        "<title>c</title><!-- " + "z" * BIG + " --><script>document.title = document.cookie"
        "</script>",
        headers={"Set-Cookie": "visit=1; Path=/"},
    )
    async with make_pool(page_budget=20.0) as pool:
        result = await pool.capture_page("https://cookie.example/", fetch, deadline=deadline())
        streamed = pool.bodies_streamed
    assert result.title == "visit=1"
    assert streamed == 0


async def test_a_large_answer_to_a_post_reaches_the_page(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    """A request with a body keeps the DevTools path (the body server reads only a
    request's head), and its large answer still reaches the page whole."""
    simweb.page(
        "https://post.example/",
        """<title>post</title><script>
        fetch('/api', {method: 'POST', body: 'q=1'}).then(r => r.text()).then(
          t => { document.title = 'answer ' + t.length; });
        </script>""",
    )
    simweb.page("https://post.example/api", "a" * BIG, content_type="text/plain")
    async with make_pool(page_budget=20.0) as pool:
        result = await pool.capture_page("https://post.example/", fetch, deadline=deadline())
        streamed = pool.bodies_streamed
    assert result.title == f"answer {BIG}"
    assert streamed == 0


async def test_an_address_is_answered_once_and_a_forgotten_one_never() -> None:
    """The body server answers each address once; one the capture dropped (its page
    closed before Chromium asked) is not answered, and its body is let go."""
    exchange = Exchange(
        url="https://x.example/",
        method="GET",
        request_head=b"",
        request_body=b"",
        started_at=datetime.now(UTC),
        status=200,
        reason="OK",
        body=Body.from_bytes(b"evidence"),
    )
    server = BodyServer()
    await server.start()
    port = int(server.proxy_url.rsplit(":", 1)[1])

    async def ask(address: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {address} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    told: list[tuple[bool, str | None]] = []
    kept = server.register(
        Delivery(exchange, [("Content-Type", "text/plain")], 100, lambda t, e: told.append((t, e)))
    )
    dropped = server.register(Delivery(exchange, [], 100, lambda t, e: told.append((t, e))))
    assert server.waiting == 2
    server.forget(dropped)
    try:
        first = await ask(kept)
        assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"\r\n\r\nevidence")
        assert b"Content-Type: text/plain" in first
        assert await ask(kept) == b""  # once only
        assert await ask(dropped) == b""
        assert await ask("https://elsewhere.example/") == b""  # not ours: refused
        assert told == [(False, None)] and server.waiting == 0 and server.served == 1
    finally:
        await server.close()


async def test_a_small_compressed_bomb_goes_over_the_socket_too(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    """Finding (review): the way was chosen by the size as received, so a gzip bomb of
    64 KB (64 MiB decoded, cut to the browser's limit) still went base64 through the
    driver. A compressed body goes over the socket whatever its size."""
    simweb.page("https://smallbomb.example/", gzip_bomb(64 << 20))
    async with make_pool(page_budget=20.0) as pool:
        result = await pool.capture_page("https://smallbomb.example/", fetch, deadline=deadline())
        streamed = pool.bodies_streamed
    assert result.main_status == 200
    assert streamed == 1
    assert any(
        line.startswith("max_response_bytes: https://smallbomb.example/ decoded for the browser")
        for line in result.limits_hit
    ), result.limits_hit
