"""Plain captures through the simulated web: bytes exactly as served, heads as received,
failures as failures."""

from __future__ import annotations

import asyncio
import gzip
import socket
from pathlib import Path

import pytest

from archiver.capture.exchange import FailureKind
from archiver.capture.http import decode
from tests.integration.http_capture.conftest import make_fetcher, sha256
from tests.simweb import SimulatedWeb, response

PAGE = "<html><head><title>Статья</title></head><body>Текст репортажа.</body></html>"


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_bytes_and_heads_as_served(simweb: SimulatedWeb, tmp_path: Path, scheme: str) -> None:
    served = PAGE.encode()
    simweb.page(
        "http://rus.azattyq.org/a/1.html",
        served,
        headers=[("X-Mixed-Case", "yes"), ("set-cookie", "a=b")],
    )
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch(f"{scheme}://rus.azattyq.org/a/1.html")
    assert exchange.ok, exchange.failure
    assert exchange.status == 200 and exchange.reason == "OK"
    assert exchange.body is not None
    assert exchange.body.read() == served
    assert exchange.body.sha256 == sha256(served)
    assert exchange.truncated is None
    head = exchange.response_head or b""
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert b"\r\nX-Mixed-Case: yes\r\n" in head  # the server's spelling
    assert b"\r\nset-cookie: a=b\r\n" in head
    assert exchange.header("x-mixed-case") == "yes"
    assert exchange.request_head.startswith(b"GET /a/1.html HTTP/1.1\r\nHost: rus.azattyq.org\r\n")
    assert b"Accept-Encoding: gzip, deflate, br\r\n" in exchange.request_head
    # Through a proxy the origin's address is not ours to know.
    assert exchange.ip_address is None and exchange.resolver_answers == ()
    assert {"headers", "done"} <= exchange.timings.keys()
    assert exchange.started_at.tzinfo is not None
    if scheme == "https":
        assert exchange.tls is not None
        assert exchange.tls.verified is False  # the simulated web's CA is not trusted here
        assert exchange.tls.version and exchange.tls.version.startswith("TLS")
        assert exchange.tls.peer_chain_pem[0].startswith("-----BEGIN CERTIFICATE-----")
    else:
        assert exchange.tls is None
    method, _, headers = simweb.requests[-1]
    assert method == "GET" and headers.get("user-agent", "").startswith("evidence-archiver")


async def test_https_with_the_simulated_webs_ca_trusted(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    simweb.page("https://www.facebook.com/x", PAGE)
    async with make_fetcher(tmp_path, simweb, extra_ca_file=simweb.ca_pem_path) as fetcher:
        exchange = await fetcher.fetch("https://www.facebook.com/x")
    assert exchange.ok and exchange.tls is not None
    assert exchange.tls.verified is True and exchange.tls.verify_error is None
    assert len(exchange.tls.peer_chain_pem) >= 2  # leaf and the CA the server sends


async def test_gzip_is_stored_compressed_and_decodes(simweb: SimulatedWeb, tmp_path: Path) -> None:
    text = (PAGE * 200).encode()
    compressed = gzip.compress(text)
    simweb.page("https://news.example/gz", compressed, headers={"Content-Encoding": "gzip"})
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("https://news.example/gz")
    assert exchange.body is not None
    stored = exchange.body.read()
    assert stored[:2] == b"\x1f\x8b"
    assert stored == compressed
    decoded = decode(exchange, 10 * len(text))
    assert decoded.data == text and not decoded.truncated


async def test_chunked_response_is_dechunked(simweb: SimulatedWeb, tmp_path: Path) -> None:
    served = b"<html>" + b"chunk " * 5000 + b"</html>"
    simweb.page("http://news.example/chunked", response(served, framing="chunked"))
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://news.example/chunked")
    assert exchange.body is not None and exchange.body.read() == served
    assert exchange.header("transfer-encoding") == "chunked"  # the head as received


async def test_binary_served_as_html_is_kept_as_is(simweb: SimulatedWeb, tmp_path: Path) -> None:
    served = bytes(range(256)) * 4096
    simweb.page("http://news.example/odd", served, content_type="text/html")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://news.example/odd")
    assert exchange.body is not None and exchange.body.sha256 == sha256(served)


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_error_statuses_are_responses(
    simweb: SimulatedWeb, tmp_path: Path, status: int
) -> None:
    simweb.page("https://news.example/e", f"error {status}", status=status)
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("https://news.example/e")
    assert exchange.ok and exchange.status == status and exchange.failure is None
    assert exchange.body is not None and exchange.body.read() == f"error {status}".encode()


async def test_redirect_chain(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.redirect("http://short.example/x", "https://news.example/a", status=301)
    simweb.redirect("https://news.example/a", "/b?from=a", status=302)  # relative
    simweb.redirect("https://news.example/b?from=a", "https://www.news.example/final", 307)
    simweb.page("https://www.news.example/final", PAGE)
    async with make_fetcher(tmp_path, simweb) as fetcher:
        chain = await fetcher.fetch_chain("http://short.example/x")
    assert [(e.url, e.status) for e in chain] == [
        ("http://short.example/x", 301),
        ("https://news.example/a", 302),
        ("https://news.example/b?from=a", 307),
        ("https://www.news.example/final", 200),
    ]
    assert all(e.failure is None for e in chain)
    assert chain[-1].body is not None and chain[-1].body.read() == PAGE.encode()


async def test_redirect_loop_ends_fast(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.redirect("https://loop.example/a", "https://loop.example/b")
    simweb.redirect("https://loop.example/b", "/a")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        chain = await fetcher.fetch_chain("https://loop.example/a")
    assert [e.status for e in chain] == [301, 301]
    last = chain[-1]
    assert last.failure is not None and last.failure.kind is FailureKind.TOO_MANY_REDIRECTS
    assert "loop" in last.failure.message
    assert chain[0].failure is None


async def test_too_many_redirects(simweb: SimulatedWeb, tmp_path: Path) -> None:
    for i in range(6):
        simweb.redirect(f"https://hops.example/{i}", f"https://hops.example/{i + 1}")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        chain = await fetcher.fetch_chain("https://hops.example/0", max_redirects=2)
    assert [e.url for e in chain] == [f"https://hops.example/{i}" for i in range(3)]
    assert chain[-1].failure is not None
    assert chain[-1].failure.kind is FailureKind.TOO_MANY_REDIRECTS


async def test_redirect_to_a_non_http_url_ends_the_chain(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    simweb.redirect("https://news.example/app", "intent://open#Intent;end")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        chain = await fetcher.fetch_chain("https://news.example/app")
    assert len(chain) == 1 and chain[0].status == 301 and chain[0].failure is None


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_dns_failure_and_refused_through_the_proxy(
    simweb: SimulatedWeb, tmp_path: Path, scheme: str
) -> None:
    simweb.dns_failure("gone.example")
    simweb.connection_refused("down.example")
    async with make_fetcher(tmp_path, simweb) as fetcher:
        gone = await fetcher.fetch(f"{scheme}://gone.example/")
        down = await fetcher.fetch(f"{scheme}://down.example/")
    assert gone.failure is not None and gone.failure.kind is FailureKind.DNS
    assert "ERR_DNS_FAIL" in gone.failure.message
    assert down.failure is not None and down.failure.kind is FailureKind.REFUSED
    assert "ERR_CONNECT_FAIL" in down.failure.message
    for exchange in (gone, down):  # the proxy's page is not a response from the source
        assert exchange.status is None and exchange.body is None and not exchange.ok


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_proxy_offline_is_our_network(
    simweb: SimulatedWeb, tmp_path: Path, scheme: str
) -> None:
    simweb.page("http://news.example/", PAGE)
    async with make_fetcher(tmp_path, simweb) as fetcher:
        assert (await fetcher.fetch(f"{scheme}://news.example/")).ok
        simweb.offline()
        exchange = await fetcher.fetch(f"{scheme}://news.example/")
        simweb.online()
        again = await fetcher.fetch(f"{scheme}://news.example/")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.PROXY
    assert "proxy" in exchange.failure.message
    assert again.ok


async def test_credentials_are_sent_but_never_stored(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page("https://www.facebook.com/groups/1", PAGE)
    browser_headers = [
        ("User-Agent", "Mozilla/5.0"),
        ("Cookie", "c_user=100; xs=SECRET-SESSION"),
        ("Authorization", "Bearer SECRET-TOKEN"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Connection", "keep-alive"),
    ]
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch(
            "https://www.facebook.com/groups/1",
            headers=browser_headers,
            via="browser",
            resource_type="document",
        )
    _, _, received = simweb.requests[-1]
    assert received.get("cookie") == "c_user=100; xs=SECRET-SESSION"  # really sent
    assert received.get("accept-encoding") == "gzip, deflate, br"  # forced
    assert received.get("user-agent") == "Mozilla/5.0"  # the browser's
    assert b"SECRET" not in exchange.request_head
    assert b"Cookie: [redacted]\r\n" in exchange.request_head
    assert b"Authorization: [redacted]\r\n" in exchange.request_head
    assert exchange.redacted_headers == ("Cookie", "Authorization")
    assert exchange.via == "browser" and exchange.resource_type == "document"


async def test_post_body_is_sent_and_kept(simweb: SimulatedWeb, tmp_path: Path) -> None:
    simweb.page("https://news.example/api", lambda request: request.body[::-1])
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch(
            "https://news.example/api", method="post", body=b"q=1", headers=[("X-A", "1")]
        )
    assert exchange.method == "POST" and exchange.request_body == b"q=1"
    assert b"\r\nContent-Length: 3\r\n" in exchange.request_head
    assert exchange.body is not None and exchange.body.read() == b"1=q"


async def test_unfetchable_urls_are_failures(tmp_path: Path) -> None:
    async with make_fetcher(tmp_path) as fetcher:
        exchange = await fetcher.fetch("ftp://files.example/report.pdf")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.OTHER


async def test_private_ip_literal_refused_even_through_the_proxy(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    async with make_fetcher(tmp_path, simweb) as fetcher:
        exchange = await fetcher.fetch("http://192.168.1.1/admin")
    assert exchange.failure is not None
    assert exchange.failure.kind is FailureKind.FORBIDDEN_ADDRESS
    assert "192.168.1.1 (private network address)" in exchange.failure.message
    assert simweb.requests == []


async def test_unreachable_socks_proxy_is_our_network(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_fetcher(tmp_path, proxy=f"socks5://127.0.0.1:{port}") as fetcher:
        exchange = await fetcher.fetch("https://news.example/")
    assert exchange.failure is not None and exchange.failure.kind is FailureKind.PROXY


async def test_one_failed_handshake_per_origin_not_one_per_request(
    simweb: SimulatedWeb, tmp_path: Path
) -> None:
    simweb.page("https://cdn.example/app.js", "js")
    async with make_fetcher(tmp_path, simweb, per_host_concurrency=6) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch("https://cdn.example/app.js") for _ in range(12))
        )
    assert all(r.ok and r.tls is not None and r.tls.verified is False for r in results)
    # One probe learnt that the certificate does not verify; the others waited for it
    # and went straight to unverified connections (at most 6, the per-host limit).
    assert len(simweb.connects) <= 1 + 6
