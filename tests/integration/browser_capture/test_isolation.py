"""Captures do not leak into each other or out of the interception: cookies, crashes,
concurrent captures, and requests that try to go around the fetcher."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archiver.capture.browser import BrowserPool
from archiver.capture.session import load_session
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import SimulatedWeb, hang

pytestmark = [pytest.mark.slow, needs_chromium]


async def test_cookies_do_not_cross_captures(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    make_pool: Callable[..., BrowserPool],
    tmp_path: Path,
) -> None:
    simweb.page(
        "https://a.example/",
        "<title>A</title><script>document.cookie = 'js=1; path=/'</script>",
        headers={"Set-Cookie": "session=abc; Path=/; Secure"},
    )
    simweb.page("https://a.example/next", "<title>A again</title><img src=/pixel.gif>")
    simweb.page("https://a.example/pixel.gif", b"GIF89a", content_type="image/gif")
    # One slot: the second and third captures run in the very Chromium of the first.
    async with make_pool(browser_concurrency=1) as pool:
        await pool.capture_page("https://a.example/", fetch, deadline=deadline())
        mark = len(fetch.requests)
        await pool.capture_page("https://a.example/next", fetch, deadline=deadline())
        later = fetch.requests[mark:]
        mark = len(fetch.requests)
        cookies = tmp_path / "cookies.txt"
        cookies.write_text("#HttpOnly_a.example\tFALSE\t/\tTRUE\t0\top\tlogin-value\n", "utf-8")
        await pool.capture_page(
            "https://a.example/next",
            fetch,
            deadline=deadline(),
            operator_session=load_session(cookies),
        )
        operator = fetch.requests[mark:]

    assert later and all(r.header("cookie") is None for r in later)
    assert operator and all(r.header("cookie") == "op=login-value" for r in operator)


def chromium_browsers() -> list[int]:
    """Chromium browser processes (not renderers, GPU...) started by this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv[0].endswith(b"/chromium") or any(a.startswith(b"--type=") for a in argv):
            continue
        if _descends_from(int(entry.name), os.getpid()):
            found.append(int(entry.name))
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


async def test_browser_crash_between_and_during_captures(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    simweb.page("https://a.example/", "<title>first</title>")
    simweb.page("https://b.example/", "<title>second</title>")
    simweb.page("https://c.example/", "<title>busy</title><img src=/stuck.png>")
    simweb.page("https://c.example/stuck.png", hang())

    async def kill_when_stuck() -> None:
        while "https://c.example/stuck.png" not in fetch.urls():
            await asyncio.sleep(0.02)
        [pid] = chromium_browsers()
        os.kill(pid, signal.SIGKILL)

    async with make_pool(browser_concurrency=1) as pool:
        first = await pool.capture_page("https://a.example/", fetch, deadline=deadline())
        [pid] = chromium_browsers()
        os.kill(pid, signal.SIGKILL)  # ours: started by this pool, found by ancestry
        second = await pool.capture_page("https://b.example/", fetch, deadline=deadline())
        [relaunched] = chromium_browsers()
        killer = asyncio.create_task(kill_when_stuck())
        started = time.monotonic()
        during = await pool.capture_page("https://c.example/", fetch, deadline=deadline())
        took = time.monotonic() - started
        await killer
        after = await pool.capture_page("https://a.example/", fetch, deadline=deadline())

    assert first.title == "first" and second.title == "second" and after.title == "first"
    assert second.main_status == 200 and second.screenshot_png
    assert relaunched != pid and "launch" in second.timings
    # Killed mid-capture: no waiting out the budget (20 s; half of it is generous for a
    # loaded machine), the exchanges so far are kept.
    assert took < 10 and "browser crashed: capture incomplete" in during.limits_hit
    assert [e.url for e in during.exchanges] == [
        "https://c.example/",
        "https://c.example/stuck.png",
    ]
    assert during.main_status == 200 and during.screenshot_png is None
    stuck = during.exchanges[1].failure
    assert stuck is not None and stuck.message == "the browser crashed before a response"


def page_for(host: str) -> str:
    images = "".join(f'<img src="/{host}-{n}.png">' for n in range(5))
    return f"<title>{host}</title>{images}<script>fetch('/{host}.json')</script>"


async def test_concurrent_captures_keep_their_own_requests(
    simweb: SimulatedWeb, fetch: SimwebFetch, make_pool: Callable[..., BrowserPool]
) -> None:
    hosts = ["one.example", "two.example"]
    for host in hosts:
        simweb.page(f"https://{host}/", page_for(host))
    simweb.latency = 0.05  # keep both captures' requests in flight together
    async with make_pool(browser_concurrency=2) as pool:
        results = await asyncio.gather(
            *(pool.capture_page(f"https://{h}/", fetch, deadline=deadline()) for h in hosts)
        )
        assert len(chromium_browsers()) == 2

    for host, result in zip(hosts, results, strict=True):
        assert result.title == host
        assert len(result.exchanges) == 8  # document, 5 images, fetch, favicon
        assert {e.url.split("/")[2] for e in result.exchanges} == {host}


@pytest.fixture
def local_listeners() -> Iterator[tuple[int, int, list[str]]]:
    """A TCP and a UDP socket on 127.0.0.1 recording anything that reaches them: a page
    must never reach them directly (only through the fetcher)."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    for sock in (tcp, udp):
        sock.settimeout(0.1)
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
                seen.append("tcp")
                conn.close()
            except OSError:
                pass
            try:
                udp.recvfrom(2048)
                seen.append("udp")
            except OSError:
                pass

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield tcp.getsockname()[1], udp.getsockname()[1], seen
    stop.set()
    thread.join(2)
    tcp.close()
    udp.close()


async def test_nothing_escapes_the_interception(
    simweb: SimulatedWeb,
    fetch: SimwebFetch,
    pool: BrowserPool,
    local_listeners: tuple[int, int, list[str]],
) -> None:
    tcp_port, udp_port, seen = local_listeners
    page = f"""<title>escape</title><link rel=prefetch href="/prefetched.html"><script>
      const log = (m) => document.body.append(' ' + m);
      for (const url of ['ws://127.0.0.1:{tcp_port}/', 'wss://escape.example/socket']) {{
        const ws = new WebSocket(url);
        ws.onopen = () => log('WS OPEN ' + url);
        ws.onerror = () => log('WS FAILED');
      }}
      const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:127.0.0.1:{udp_port}'}}]}});
      pc.createDataChannel('x');
      pc.createOffer().then(o => pc.setLocalDescription(o));
      navigator.serviceWorker.register('/sw.js').then(
        () => log('SW REGISTERED'), () => log('SW REFUSED'));
      fetch('http://127.0.0.1:{tcp_port}/direct').then(r => r.text()).then(
        t => log('LOOPBACK ' + t), () => log('LOOPBACK FAILED'));
    </script><body>"""
    simweb.page("https://escape.example/", page)
    simweb.page("https://escape.example/prefetched.html", "prefetched")
    simweb.page(
        "https://escape.example/sw.js", "self.onfetch = () => {}", content_type="text/javascript"
    )
    simweb.page(
        f"http://127.0.0.1:{tcp_port}/direct",
        "via the fetcher",
        headers={"Access-Control-Allow-Origin": "*"},
    )

    result = await pool.capture_page("https://escape.example/", fetch, deadline=deadline())
    await asyncio.sleep(0.5)  # let any late UDP/TCP packet arrive

    dom = (result.dom_html or b"").decode().split("</script>")[-1]  # what the script wrote
    assert dom.count("WS FAILED") == 2 and "WS OPEN" not in dom
    assert "SW REGISTERED" not in dom
    # Even a loopback URL goes to the fetcher (whose guard refuses it in production).
    assert "LOOPBACK via the fetcher" in dom
    assert seen == []
    urls = [e.url for e in result.exchanges]
    assert "https://escape.example/prefetched.html" in urls
    assert f"http://127.0.0.1:{tcp_port}/direct" in urls
    assert "https://escape.example/sw.js" not in urls  # service workers are blocked
    assert sorted(u for _, u, _ in simweb.requests) == sorted(urls)
