"""A page rendered by Chromium: scripts, XHR, compressed bodies, lazy content, redirects."""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import pytest

from archiver.capture.browser import BrowserPool
from tests.integration.browser_capture.conftest import SimwebFetch, deadline, needs_chromium
from tests.simweb import CorpusEntry, SimulatedWeb, read_manifest

pytestmark = [pytest.mark.slow, needs_chromium]

JS_PAGE = """<!doctype html><html><head><title>Report 7</title></head><body>
<p id=static>Static paragraph.</p>
<div id=out></div>
<div style="height: 3000px">long page</div>
<iframe src="https://embed.example/player"></iframe>
<script>
  fetch('https://api.example/count', {method: 'POST', body: '{"id": 7}',
        headers: {'Content-Type': 'application/json', 'X-Requested-By': 'page'}});
  document.getElementById('out').append('Inserted by script: witness statement.');
  fetch('/api/data.json').then(r => r.json()).then(d => {
    const p = document.createElement('p');
    p.textContent = 'From the API: ' + d.message;
    document.body.append(p);
  });
</script></body></html>"""
DATA = json.dumps({"message": "protest in Almaty, 12 March"}).encode()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_javascript_rendered_page(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    url = "https://rus.azattyq.org/a/7.html"
    simweb.page(url, JS_PAGE)
    simweb.page("https://rus.azattyq.org/api/data.json", DATA, content_type="application/json")
    simweb.page("https://embed.example/player", "<img src=/poster.png>")
    simweb.page("https://embed.example/poster.png", b"\x89PNG", content_type="image/png")
    cors = {
        "Access-Control-Allow-Origin": "https://rus.azattyq.org",
        "Access-Control-Allow-Headers": "Content-Type, X-Requested-By",
    }
    simweb.page("https://api.example/count", "{}", headers=cors, content_type="application/json")

    result = await pool.capture_page(url, fetch, deadline=deadline())

    assert result.error is None and result.main_status == 200
    assert result.final_url == url and result.title == "Report 7"
    dom = (result.dom_html or b"").decode()
    assert "Inserted by script: witness statement." in dom
    assert "From the API: protest in Almaty, 12 March" in dom
    api = [e for e in result.exchanges if e.url.endswith("/api/data.json")]
    assert len(api) == 1 and api[0].resource_type in {"fetch", "xhr"}
    assert api[0].body is not None and api[0].body.read() == DATA
    assert all(e.via == "browser" and e.resource_type for e in result.exchanges)
    assert result.main_exchange is not None and result.main_exchange.url == url
    assert result.main_exchange.resource_type == "document"
    assert result.redirect_chain == [url]
    width, height = png_size(result.screenshot_png or b"")
    assert width == result.viewport["width"] and height > result.viewport["height"]
    assert (result.pdf or b"").startswith(b"%PDF")
    assert result.limits_hit == []
    assert {"navigation", "scroll", "settle", "artefacts", "total"} <= set(result.timings)
    assert result.browser_version and result.user_agent.startswith("Mozilla/5.0")
    # A cross-site iframe (its own renderer process) and its image are routed too, and
    # so is the CORS preflight, which a real browser would send to the server.
    frame = next(r for r in fetch.requests if r.url == "https://embed.example/player")
    assert frame.is_navigation and not frame.is_main_frame
    poster = next(r for r in fetch.requests if r.url.endswith("/poster.png"))
    assert poster.frame_url == "https://embed.example/player" and poster.resource_type == "image"
    api_calls = [(r.method, r.post_body) for r in fetch.requests if r.url.endswith("/count")]
    assert api_calls == [("OPTIONS", b""), ("POST", b'{"id": 7}')]
    # Exactly what the page asked for reached the (simulated) network, nothing more.
    assert sorted(u for _, u, _ in simweb.requests) == sorted(e.url for e in result.exchanges)


async def test_gzip_page_renders_and_keeps_compressed_bytes(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    url = "https://news.example/gz.html"
    html = "<title>gz</title><p>Компрессия: свидетельство сохранено.</p>".encode()
    compressed = gzip.compress(html, mtime=0)
    # A raw UTF-8 header (as some servers send) travels to Chromium as raw bytes.
    author = "Свидетель".encode().decode("latin-1")
    simweb.page(url, compressed, headers={"Content-Encoding": "gzip", "X-Author": author})

    result = await pool.capture_page(url, fetch, deadline=deadline())

    assert result.main_status == 200
    assert "Компрессия: свидетельство сохранено." in (result.dom_html or b"").decode()
    main = result.main_exchange
    assert main is not None and main.body is not None
    assert main.header("content-encoding") == "gzip" and main.body.read() == compressed


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


LAZY_PAGE = """<!doctype html><title>lazy</title><body style="margin:0">
<div style="height: 6000px">top</div>
<div id=sentinel style="height: 2px"></div>
<div style="height: 6000px">middle</div>
<img loading=lazy src="/far.png" width=10 height=10>
<div style="height: 3000px">bottom</div>
<script>
  new IntersectionObserver((entries, observer) => {
    if (!entries.some(e => e.isIntersecting)) return;
    observer.disconnect();
    fetch('/more.json').then(r => r.json()).then(d => {
      document.body.append('Loaded when seen: ' + d.more);
    });
  }).observe(document.getElementById('sentinel'));
</script></body>"""


async def test_scrolling_triggers_lazy_loading(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    url = "https://news.example/lazy.html"
    simweb.page(url, LAZY_PAGE)
    simweb.page("https://news.example/far.png", tiny_png(), content_type="image/png")
    simweb.page(
        "https://news.example/more.json", '{"more": "comments"}', content_type="application/json"
    )

    result = await pool.capture_page(url, fetch, deadline=deadline())

    kinds = {e.url.rsplit("/", 1)[1]: e.resource_type for e in result.exchanges}
    assert kinds.get("far.png") == "image"
    assert kinds.get("more.json") in {"fetch", "xhr"}
    assert "Loaded when seen: comments" in (result.dom_html or b"").decode()
    assert result.timings["scroll"] > 0


async def test_redirect_chain_hop_by_hop(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    first, second, final = (f"https://short.example/{n}" for n in ("a", "b", "c"))
    simweb.redirect(first, second, 301)
    simweb.page(second, b"", status=302, headers={"Location": final, "Set-Cookie": "hop=2; Path=/"})
    simweb.page(final, "<title>final</title><p>arrived</p>")

    result = await pool.capture_page(first, fetch, deadline=deadline())

    assert result.final_url == final and result.main_status == 200
    assert result.redirect_chain == [first, second, final]
    documents = [(e.url, e.status) for e in result.exchanges if e.resource_type == "document"]
    assert documents == [(first, 301), (second, 302), (final, 200)]
    assert result.main_exchange is result.exchanges[2]
    # The cookie set by the 302 hop came back on the next hop, as in a real browser.
    final_request = next(r for r in fetch.requests if r.url == final)
    assert final_request.header("cookie") == "hop=2"
    assert all(r.is_main_frame and r.is_navigation for r in fetch.requests[:3])


def corpus_video(state: str = "available") -> CorpusEntry:
    for entry in read_manifest():
        if entry.platform == "youtube" and entry.state == state and "watch?v=" in (entry.url or ""):
            return entry
    raise AssertionError("no such corpus entry")


async def test_https_and_hsts_hosts(
    simweb: SimulatedWeb, fetch: SimwebFetch, pool: BrowserPool
) -> None:
    simweb.load_corpus()
    post = "https://www.facebook.com/permalink.php?story_fbid=1&id=2"
    simweb.page(post, "<title>Facebook post</title><p>Post text kept as evidence.</p>")
    video = corpus_video()
    assert video.url is not None and video.title
    insecure = video.url.replace("https://", "http://", 1)

    fb = await pool.capture_page(post, fetch, deadline=deadline())
    yt = await pool.capture_page(insecure, fetch, deadline=deadline(30))

    # https works with no certificate in play: Chromium never connects anywhere.
    assert fb.main_status == 200 and fb.final_url == post
    assert "Post text kept as evidence." in (fb.dom_html or b"").decode()
    assert yt.main_status == 200 and video.title in (yt.title or "")
    # youtube.com is HSTS-preloaded, yet the fetcher is asked for the http:// URL: the
    # upgrade lives in Chromium's network stack, which interception sits in front of
    # (Playwright also turns off the HttpsUpgrades feature). A real site answers with its
    # own redirect to https, which is then one more recorded hop.
    assert yt.redirect_chain == [insecure] and yt.final_url == insecure
    assert fetch.requests[-len(yt.exchanges)].url == insecure
