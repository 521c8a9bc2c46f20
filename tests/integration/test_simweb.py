"""The simulated web (tests/simweb) behaves like the internet seen through a forward proxy.

Later suites (capture, re-check scenarios, platform recognition, the daemon end to end) trust
it blindly, so each scripted behaviour is checked here against real clients: httpx for the
protocol details, Debian's Chromium through Playwright for what a browser does (HSTS upgrades
to https, CONNECT tunnels, certificate trust, scripts fetching other hosts).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import socket
import ssl
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
import pytest

from tests.simweb import (
    CHROMIUM,
    DEFAULT_CORPUS,
    Request,
    Response,
    SimulatedWeb,
    endless_body,
    gzip_bomb,
    gzip_zeros,
    hang,
    headers_then_stall,
    read_manifest,
    reset_mid_body,
    response,
    slow_body,
    status,
)
from tests.simweb.fixtures import simweb  # noqa: F401  (the fixture under test)

MANIFEST = json.loads((DEFAULT_CORPUS / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    return simweb


@pytest.fixture
def client(web: SimulatedWeb) -> Iterator[httpx.Client]:
    with httpx.Client(proxy=web.proxy_url, verify=web.ssl_context_for_clients(), timeout=5.0) as c:
        yield c


def corpus_entry(path: str) -> dict[str, object]:
    return next(e for e in MANIFEST if e["path"] == path)


# --- plain and tunnelled HTTP --------------------------------------------------------------


def test_serves_made_up_hosts_over_http_and_https(web: SimulatedWeb, client: httpx.Client) -> None:
    body = "<html><title>Суд</title><p>Статья</p></html>"
    web.page("http://rus.azattyq.org/a/1.html", body, headers={"X-Origin": "simweb"})

    for scheme in ("http", "https"):
        response = client.get(f"{scheme}://rus.azattyq.org/a/1.html")
        assert response.status_code == 200
        assert response.content == body.encode()
        assert response.headers["content-length"] == str(len(body.encode()))
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["x-origin"] == "simweb"
        assert "date" in response.headers

    assert [(m, u) for m, u, _ in web.requests] == [
        ("GET", "http://rus.azattyq.org/a/1.html"),
        ("GET", "https://rus.azattyq.org/a/1.html"),
    ]
    assert web.connects == ["rus.azattyq.org:443"]
    assert web.requests[0].headers["host"] == "rus.azattyq.org"


def test_ca_file_verifies_per_host_certificates(web: SimulatedWeb) -> None:
    web.page("https://www.facebook.com/story.php?story_fbid=1&id=2", "post")
    web.page("https://пример.испытание/путь?q=1", "idn")
    context = ssl.create_default_context(cafile=web.ca_pem_path)
    with httpx.Client(proxy=web.proxy_url, verify=context) as c:
        assert c.get("https://www.facebook.com/story.php?story_fbid=1&id=2").text == "post"
        # httpx sends the punycode host; the registry matched the Unicode registration.
        assert c.get("https://пример.испытание/путь?q=1").text == "idn"
    assert web.connects[-1] == "xn--e1afmkfd.xn--80akhbyknj4f:443"
    with httpx.Client(proxy=web.proxy_url) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get("https://www.facebook.com/story.php?story_fbid=1&id=2")


def test_keep_alive_reuses_one_connection(web: SimulatedWeb, client: httpx.Client) -> None:
    peers: list[tuple[str, int] | None] = []

    def record_peer(request: Request) -> Response:
        peers.append(request.client)
        return Response(200, "ok")

    web.page("http://news.example/a", record_peer)
    web.page("https://secure.example/a", "tls")
    for _ in range(3):
        assert client.get("http://news.example/a").text == "ok"
        assert client.get("https://secure.example/a").text == "tls"

    assert len(peers) == 3 and len(set(peers)) == 1
    assert web.connects == ["secure.example:443"]  # three requests, one tunnel


def test_not_found_gone_redirect_and_soft_404(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://site.example/old", "old")
    web.page("https://site.example/dead", "dead")
    web.page("https://site.example/new", "new")
    web.redirect("https://site.example/old", "https://site.example/new")
    web.gone("https://site.example/dead")
    web.host("soft.example", soft_404=True, not_found_body="<h1>Sorry, nothing here</h1>")
    web.page("https://soft.example/real", "real")

    moved = client.get("https://site.example/old")
    assert (moved.status_code, moved.headers["location"]) == (301, "https://site.example/new")
    assert client.get("https://site.example/old", follow_redirects=True).text == "new"
    assert client.get("https://site.example/dead").status_code == 410
    assert client.get("https://site.example/missing").status_code == 404

    web.remove("https://site.example/new")
    assert client.get("http://site.example/new").status_code == 404  # both schemes

    soft = client.get("https://soft.example/missing")
    assert (soft.status_code, soft.text) == (200, "<h1>Sorry, nothing here</h1>")
    web.remove("https://soft.example/real")
    assert client.get("https://soft.example/real").status_code == 200
    # robots.txt is absent (404) by default, even on a soft-404 host, until set.
    assert client.get("https://soft.example/robots.txt").status_code == 404
    web.page(
        "https://soft.example/robots.txt", "User-agent: *\nDisallow:\n", content_type="text/plain"
    )
    assert client.get("https://soft.example/robots.txt").status_code == 200


def test_one_scheme_only_and_head(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://strict.example/", "secure only", both_schemes=False)
    web.redirect("http://strict.example/", "https://strict.example/", both_schemes=False)
    assert client.get("http://strict.example/", follow_redirects=True).text == "secure only"

    head = client.head("https://strict.example/")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("secure only"))
    assert head.content == b""
    assert client.get("https://strict.example/").text == "secure only"  # connection still fine


def test_post_body_reaches_handler_and_log(web: SimulatedWeb, client: httpx.Client) -> None:
    seen: list[bytes] = []

    def echo(request: Request) -> str:
        seen.append(request.body)
        return f"{request.method} {request.target} {request.headers['content-type']}"

    web.page("https://api.example/submit?x=1", echo)
    answer = client.post("https://api.example/submit?x=1", json={"a": 1})
    assert answer.text == "POST /submit?x=1 application/json"
    assert seen == [b'{"a":1}']
    method, url, headers = web.requests[-1]
    assert (method, url, headers["content-length"]) == (
        "POST",
        "https://api.example/submit?x=1",
        "7",
    )


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_chunked_and_close_delimited_bodies_arrive_whole(
    web: SimulatedWeb, client: httpx.Client, framing: Literal["chunked", "close"]
) -> None:
    body = os.urandom(3_000_000)
    web.page("http://big.example/file", response(body, framing=framing, content_type=None))
    for scheme in ("http", "https"):
        answer = client.get(f"{scheme}://big.example/file")
        assert "content-length" not in answer.headers
        assert answer.content == body


def test_http10_origin_form_request_and_injected_clock() -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with SimulatedWeb(clock=lambda: fixed) as web:
        web.page("http://old.example/", "old")
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as sock:
            # A client using the proxy as if it were the origin: origin-form plus Host.
            sock.sendall(b"GET / HTTP/1.0\r\nHost: old.example\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert b"Date: Fri, 02 Jan 2026 03:04:05 GMT" in head
    assert b"Connection: close" in head
    assert body == b"old"


# --- corpus ------------------------------------------------------------------------------


def test_corpus_pages_served_byte_for_byte(web: SimulatedWeb, client: httpx.Client) -> None:
    urls = web.load_corpus()
    with_url = {e["original_url"] for e in MANIFEST if e["original_url"]}
    assert set(urls) == with_url and len(urls) == len(with_url)

    for path in (
        "youtube/9bZkp7q19f0.html",
        "facebook/fb-www-dag-permalink-827163017327807-2020.html",
        "facebook/fb-m-nintendo-photo-3065146500236449-2021.html",
    ):
        entry = corpus_entry(path)
        response = client.get(str(entry["original_url"]))
        assert response.status_code == entry["http_status"]
        assert response.headers["content-type"] == entry["content_type"]
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]

    news = corpus_entry("news/blog.python.org.html")
    plain = client.get(str(news["original_url"]))
    assert hashlib.sha256(plain.content).hexdigest() == news["sha256"]


def test_corpus_url_captured_twice_serves_earliest_then_switches(
    web: SimulatedWeb, client: httpx.Client
) -> None:
    web.load_corpus()
    url = "https://www.youtube.com/watch?v=irauhITDrsE"
    before = client.get(url)
    assert (
        hashlib.sha256(before.content).hexdigest()
        == corpus_entry("youtube/irauhITDrsE.html")["sha256"]
    )

    later = next(e for e in read_manifest() if e.path.name == "irauhITDrsE--2023-05.html")
    web.serve_entry(later)
    after = client.get(url)
    assert hashlib.sha256(after.content).hexdigest() == later.sha256
    assert later.state == "removed"


# --- timing and failure behaviours -----------------------------------------------------------


async def test_latency_is_per_host_and_never_serialises(web: SimulatedWeb) -> None:
    # 1 s: the fast host's answer must beat it, which a loaded machine does easily.
    web.set_latency("slow.example", 1.0)
    for i in range(50):
        web.page(f"http://slow.example/{i}", f"page {i}")
    web.page("http://fast.example/", "fast")

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(proxy=web.proxy_url, limits=limits, timeout=10) as c:
        started = time.monotonic()
        slow = asyncio.gather(*(c.get(f"http://slow.example/{i}") for i in range(50)))
        await asyncio.sleep(0.05)
        assert (await c.get("http://fast.example/")).text == "fast"
        assert not slow.done()  # the fast host was not held behind the slow one
        answers = await slow
        took = time.monotonic() - started

    assert [a.text for a in answers] == [f"page {i}" for i in range(50)]
    assert took >= 1.0
    assert took < 10.0, f"50 requests with 1 s latency took {took:.1f} s: serialised?"


def test_global_latency(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("http://a.example/", "a")
    web.latency = 0.15
    started = time.monotonic()
    client.get("http://a.example/")
    assert time.monotonic() - started >= 0.15


def test_hang_and_headers_then_stall_time_out(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://stuck.example/hang", hang())
    web.page("https://stuck.example/stall", headers_then_stall())
    web.page("https://stuck.example/ok", "still serving")

    with pytest.raises(httpx.ReadTimeout):
        client.get("https://stuck.example/hang", timeout=0.3)
    with client.stream("GET", "https://stuck.example/stall", timeout=0.3) as streamed:
        assert streamed.status_code == 200  # the head arrived...
        with pytest.raises(httpx.ReadTimeout):
            streamed.read()  # ...the body never does
    assert client.get("https://stuck.example/ok").text == "still serving"


def test_reset_mid_body_is_a_read_error(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("http://flaky.example/rst", reset_mid_body())
    web.page("https://flaky.example/rst", reset_mid_body(), both_schemes=False)
    web.page("http://flaky.example/cut", reset_mid_body(rst=False))
    with pytest.raises(httpx.ReadError):
        client.get("http://flaky.example/rst")
    # The same TCP reset under TLS: Python's ssl module (OpenSSL 3) reports a reset inside a
    # TLS record stream as an unexpected EOF, which httpx turns into RemoteProtocolError.
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get("https://flaky.example/rst")
    with pytest.raises(httpx.RemoteProtocolError, match=r"without sending complete message body"):
        client.get("http://flaky.example/cut")


def test_gzip_bomb_is_served_compressed(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://bomb.example/", gzip_bomb())
    raw_size = 0
    first = b""
    with client.stream("GET", "https://bomb.example/") as response:
        assert response.headers["content-encoding"] == "gzip"
        declared = int(response.headers["content-length"])
        for piece in response.iter_raw():
            first = first or piece
            raw_size += len(piece)
    assert raw_size == declared < 2_000_000
    assert first[:2] == b"\x1f\x8b"
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    sample = inflater.decompress(first[:8192], 50_000_000)
    assert sample and sample.count(0) == len(sample)
    assert len(sample) > 100 * 8192  # a bomb, not a file


def test_gzip_zeros_inflate_exactly() -> None:
    for size in (0, 1, (1 << 20) - 1, 3 * (1 << 20) + 12345):
        inflated = zlib.decompress(gzip_zeros(size), zlib.MAX_WBITS | 16)
        assert inflated == bytes(size)


def test_endless_and_slow_bodies(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://stream.example/endless", endless_body())
    web.page("https://stream.example/slow", slow_body(b"x" * 2000, 10_000))

    received = 0
    with client.stream("GET", "https://stream.example/endless") as response:
        for piece in response.iter_raw():
            received += len(piece)
            if received > 5_000_000:
                break
    assert received > 5_000_000

    started = time.monotonic()
    assert client.get("https://stream.example/slow").content == b"x" * 2000
    assert time.monotonic() - started >= 0.15


def test_rate_limited_status(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://busy.example/", status(429, headers={"Retry-After": "120"}))
    answer = client.get("https://busy.example/")
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "120")


def test_dns_failure_and_refused_answer_like_squid(web: SimulatedWeb, client: httpx.Client) -> None:
    web.page("https://gone-domain.example/", "was here")

    unknown = client.get("http://never-registered.example/x")
    assert unknown.status_code == 503
    assert unknown.headers["x-squid-error"] == "ERR_DNS_FAIL 0"
    with pytest.raises(httpx.ProxyError, match="503"):
        client.get("https://never-registered.example/x")

    assert client.get("https://gone-domain.example/").text == "was here"
    web.dns_failure("gone-domain.example")  # also drops the open tunnel
    with pytest.raises(httpx.ProxyError, match="503"):
        client.get("https://gone-domain.example/")
    assert client.get("http://gone-domain.example/").headers["x-squid-error"] == "ERR_DNS_FAIL 0"

    web.connection_refused("gone-domain.example")
    refused = client.get("http://gone-domain.example/")
    assert (refused.status_code, refused.headers["x-squid-error"]) == (
        502,
        "ERR_CONNECT_FAIL 111",
    )
    with pytest.raises(httpx.ProxyError, match="502"):
        client.get("https://gone-domain.example/")

    web.restore_host("gone-domain.example")
    assert client.get("https://gone-domain.example/").text == "was here"


def test_offline_refuses_connections_until_online_on_same_port(
    web: SimulatedWeb, client: httpx.Client
) -> None:
    web.page("https://up.example/", "up")
    assert client.get("https://up.example/").text == "up"
    port = web.port

    web.offline()
    assert not web.is_online
    with pytest.raises(httpx.ConnectError):
        client.get("https://up.example/")  # the pooled tunnel is gone too
    with pytest.raises(httpx.ConnectError):
        client.get("http://up.example/")

    web.online()
    assert web.port == port and web.proxy_url.endswith(f":{port}")
    assert client.get("https://up.example/").text == "up"


def test_handler_counts_hits_and_changes_content(web: SimulatedWeb, client: httpx.Client) -> None:
    served = 0

    def rotating(request: Request) -> Response:
        nonlocal served
        served += 1
        return Response(200, f"<p>Article</p><aside>ad #{served}</aside>")

    async def slow_echo(request: Request) -> str:
        await asyncio.sleep(0.05)
        return request.url

    web.page("https://news.example/story", rotating)
    web.page("https://news.example/echo", slow_echo)
    first = client.get("https://news.example/story").text
    second = client.get("https://news.example/story").text
    assert (first, second) == (
        "<p>Article</p><aside>ad #1</aside>",
        "<p>Article</p><aside>ad #2</aside>",
    )
    assert web.hits("https://news.example/story") == 2
    assert web.hits("http://news.example/story") == 0
    assert client.get("https://news.example/echo").text == "https://news.example/echo"

    web.page("https://news.example/story", "edited")  # scripting between two checks
    assert client.get("https://news.example/story").text == "edited"
    assert web.hits("https://news.example/story") == 3


def test_broken_handler_answers_500_and_is_reported() -> None:
    with SimulatedWeb() as web:

        def broken(request: Request) -> str:
            raise RuntimeError("bug in the test")

        web.page("http://bug.example/", broken)
        with httpx.Client(proxy=web.proxy_url) as c:
            assert c.get("http://bug.example/").status_code == 500
        assert "bug in the test" in web.errors[0]


def test_shutdown_with_hung_requests_is_quick_and_clean() -> None:
    web = SimulatedWeb().start()
    web.page("https://stuck.example/", hang())
    web.page("http://stuck.example/", hang(), both_schemes=False)
    outcomes: list[BaseException | None] = []

    def fetch(url: str) -> None:
        try:
            with httpx.Client(
                proxy=web.proxy_url, verify=web.ssl_context_for_clients(), timeout=30
            ) as c:
                c.get(url)
            outcomes.append(None)
        except httpx.HTTPError as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=fetch, args=(url,))
        for url in ("https://stuck.example/", "http://stuck.example/")
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(web.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.monotonic()
        web.close()
        took = time.monotonic() - started
        for thread in threads:
            thread.join(5)
        gc.collect()
    assert took < 5.0  # not held by the stuck requests (their clients wait 30 s)
    assert len(outcomes) == 2 and all(isinstance(o, httpx.HTTPError) for o in outcomes)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# --- Chromium --------------------------------------------------------------------------------

chromium_available = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="Debian's Chromium is not installed"
)


async def _titles(web: SimulatedWeb, urls: list[str], *, trust_ca: bool) -> list[str]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=web.chromium_args(trust_ca=trust_ca),
            proxy=web.playwright_proxy,
        )
        try:
            context = await browser.new_context(ignore_https_errors=not trust_ca)
            page = await context.new_page()
            titles = []
            for url in urls:
                response = await page.goto(url, wait_until="domcontentloaded", timeout=20_000)
                assert response is not None and response.status == 200
                titles.append(await page.title())
            return titles
        finally:
            await browser.close()


@pytest.mark.slow
@chromium_available
@pytest.mark.parametrize("trust_ca", [False, True], ids=["ignore_https_errors", "spki_trust"])
async def test_chromium_opens_corpus_pages(web: SimulatedWeb, trust_ca: bool) -> None:
    web.load_corpus()
    video = corpus_entry("youtube/9bZkp7q19f0.html")
    news = corpus_entry("news/bbc.com.52241221.html")
    # http:// on purpose: Chromium upgrades these HSTS-preloaded hosts and tunnels them.
    urls = [str(video["original_url"]), str(news["original_url"]).replace("https:", "http:", 1)]
    video_title, news_title = await _titles(web, urls, trust_ca=trust_ca)
    assert str(video["title"]) in video_title
    assert news_title == news["title"]
    assert "www.youtube.com:443" in web.connects and "www.bbc.com:443" in web.connects
    assert ("GET", "https://www.bbc.com/news/world-us-canada-52241221") in [
        (m, u) for m, u, _ in web.requests
    ]


@pytest.mark.slow
@chromium_available
async def test_chromium_rejects_certificates_without_trust(web: SimulatedWeb) -> None:
    """Control for the SPKI test: pinning some other key must not let our CA through."""
    from playwright.async_api import Error, async_playwright

    web.page("https://www.youtube.com/", "<title>yt</title>")
    other = SimulatedWeb().start()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                args=other.chromium_args(trust_ca=True),
                proxy=web.playwright_proxy,
            )
            try:
                page = await (await browser.new_context()).new_page()
                with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
                    await page.goto("https://www.youtube.com/", timeout=20_000)
            finally:
                await browser.close()
    finally:
        other.close()


@pytest.mark.slow
@chromium_available
async def test_chromium_script_fetch_reaches_simulated_web(web: SimulatedWeb) -> None:
    news = corpus_entry("news/theguardian.com.academics.html")
    page_url = "https://rus.azattyq.org/a/32000000.html"
    web.page(
        page_url,
        "<html><head><title>Азаттык</title></head><body><script>"
        "fetch('https://api.azattyq.example/counter?id=32000000')"
        ".then(r => r.json()).then(d => { document.title = 'views ' + d.views; });"
        "</script></body></html>",
    )
    web.page(
        "https://api.azattyq.example/counter?id=32000000",
        '{"views": 41}',
        headers={"Access-Control-Allow-Origin": "*"},
        content_type="application/json",
    )
    web.page(str(news["original_url"]), Path(DEFAULT_CORPUS / str(news["path"])).read_bytes())

    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=web.chromium_args(), proxy=web.playwright_proxy
        )
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(page_url, timeout=20_000)
            await page.wait_for_function("document.title === 'views 41'", timeout=10_000)
            await page.goto(str(news["original_url"]), wait_until="domcontentloaded")
            assert await page.title() == news["title"]
        finally:
            await browser.close()

    fetches = [r for r in web.requests if r.url.startswith("https://api.azattyq.example/")]
    assert [(r.method, r.url) for r in fetches] == [
        ("GET", "https://api.azattyq.example/counter?id=32000000")
    ]
    assert fetches[0].headers["origin"] == "https://rus.azattyq.org"
