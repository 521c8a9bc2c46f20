"""The address guard and the deadline of report and feed fetches, against real local
servers: the simulated web as ``network.proxy`` (it logs every request and CONNECT it
receives), a server that drips one byte at a time, a SOCKS5 listener that never answers.

Every forbidden URL below is also registered in the simulated web, so a fetch the guard
let through would succeed: the tests see both the refusal and that the proxy never
received the request."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import httpx
import pytest

from archiver.app import Archive
from archiver.config import NetworkSettings, Settings
from archiver.errors import FetchError
from archiver.harvest.feeds import add_feed, poll_feed
from archiver.harvest.fetch import fetch_report
from archiver.web import create_app
from archiver.web.tokens import Role, create_token
from tests.conftest import FixedClock
from tests.simweb import SimulatedWeb, redirect
from tests.simweb.fixtures import simweb  # noqa: F401 - the fixture

REPORT = b"Detained [^1].\n\n[^1]: https://rus.azattyq.org/a/777.html\n"
GOOD = "http://reports.example/may.md"

# (URL, what the refusal says)
FORBIDDEN = [
    ("http://127.0.0.1/r.md", r"refusing 127\.0\.0\.1 \(loopback address\)"),
    (
        "http://169.254.169.254/latest/meta-data/iam",
        r"refusing 169\.254\.169\.254 \(cloud metadata address\)",
    ),
    ("http://10.1.2.3/r.md", r"refusing 10\.1\.2\.3 \(private network address\)"),
    ("http://localhost:8080/r.md", r"refusing localhost \(a name for this machine"),
    ("http://foo.internal/r.md", r"refusing foo\.internal \(a \.internal name"),
    (
        "http://metadata.google.internal/computeMetadata/v1/",
        r"refusing metadata\.google\.internal \(a \.internal name",
    ),
    ("http://2130706433/r.md", r"refusing 2130706433 at 127\.0\.0\.1 \(loopback address\)"),
    ("http://0x7f.1/r.md", r"refusing 0x7f\.1 at 127\.0\.0\.1 \(loopback address\)"),
    ("http://[::ffff:127.0.0.1]/r.md", r"\(loopback address\)"),
]
FORBIDDEN_URLS = [url for url, _ in FORBIDDEN]
TO_LOOPBACK = "http://reports.example/latest"  # redirects to 127.0.0.1


@pytest.fixture
def web(simweb: SimulatedWeb) -> SimulatedWeb:  # noqa: F811
    for url in [GOOD, *FORBIDDEN_URLS, "http://127.0.0.1:8080/admin"]:
        simweb.page(url, REPORT, content_type="text/markdown")
    simweb.page(TO_LOOPBACK, redirect("http://127.0.0.1:8080/admin", 302))
    return simweb


@pytest.fixture
def archive(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock
) -> Iterator[Archive]:
    settings = make_settings(network__proxy=web.proxy_url, network__timeout="5")
    with Archive.open(settings, clock=clock) as opened:
        yield opened


def _sent(web: SimulatedWeb) -> list[str]:
    """What reached the proxy: requests, and CONNECT tunnels."""
    return [r.url for r in web.requests] + [f"CONNECT {c}" for c in web.connects]


@pytest.mark.parametrize(("url", "message"), FORBIDDEN)
def test_report_url_refused_through_the_proxy(
    web: SimulatedWeb, archive: Archive, url: str, message: str
) -> None:
    with pytest.raises(FetchError, match=message + r".*network\.allow_private_networks"):
        archive.add(url)
    assert _sent(web) == []
    assert archive.status()["reports"] == []


def test_redirect_to_loopback_refused_at_the_hop(web: SimulatedWeb, archive: Archive) -> None:
    with pytest.raises(
        FetchError,
        match=r"redirected to http://127\.0\.0\.1:8080/admin: refusing 127\.0\.0\.1 "
        r"\(loopback address\)",
    ):
        archive.add(TO_LOOPBACK)
    assert _sent(web) == [TO_LOOPBACK]


def test_allowed_report_still_fetched_through_the_proxy(
    web: SimulatedWeb, archive: Archive
) -> None:
    outcome = archive.add(GOOD)
    assert outcome.new_sources == 1
    assert _sent(web) == [GOOD]


def test_allow_private_networks_lets_everything_through(
    web: SimulatedWeb, make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = make_settings(network__proxy=web.proxy_url, network__allow_private_networks="true")
    with Archive.open(settings, clock=clock) as archive:
        archive.add("http://localhost:8080/r.md")
        archive.add(TO_LOOPBACK)
    assert _sent(web) == ["http://localhost:8080/r.md", TO_LOOPBACK, "http://127.0.0.1:8080/admin"]


def test_feed_url_refused_through_the_proxy(web: SimulatedWeb, archive: Archive) -> None:
    web.page("http://localhost/feed.xml", _rss([GOOD]), content_type="application/rss+xml")
    feed = add_feed(archive, "http://localhost/feed.xml", actor="test")
    result = poll_feed(archive, feed)
    assert result.error is not None
    assert "refusing localhost (a name for this machine" in result.error
    assert _sent(web) == []


def test_feed_items_refused_through_the_proxy(web: SimulatedWeb, archive: Archive) -> None:
    """A watched feed's content chooses the URLs: the guard judges each one, and each hop
    of an item's redirects."""
    feed_url = "http://reports.example/feed.xml"
    web.page(
        feed_url,
        _rss([*FORBIDDEN_URLS, TO_LOOPBACK, GOOD]),
        content_type="application/rss+xml",
    )
    feed = add_feed(archive, feed_url, actor="test")
    result = poll_feed(archive, feed)
    assert result.error is None and result.listed == len(FORBIDDEN) + 2
    assert len(result.new_reports) == 1 and result.new_sources == 1
    failed = dict(line.split(": ", 1) for line in result.failed)
    assert set(failed) == {*FORBIDDEN_URLS, TO_LOOPBACK}
    for url, message in FORBIDDEN:
        assert re.search(message, failed[url]), failed[url]
    assert "redirected to http://127.0.0.1:8080/admin: refusing 127.0.0.1" in failed[TO_LOOPBACK]
    assert sorted(_sent(web)) == sorted([feed_url, TO_LOOPBACK, GOOD])


async def test_web_api_add_by_url_refused_through_the_proxy(
    web: SimulatedWeb, archive: Archive, clock: FixedClock
) -> None:
    _, token = create_token(archive.db, name="admin-person", role=Role.ADMIN, clock=clock)
    app = create_app(archive, archive.settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        for url, message in [*FORBIDDEN, (TO_LOOPBACK, r"refusing 127\.0\.0\.1")]:
            answer = await client.post("/api/v1/reports", data={"url": url}, headers=headers)
            assert answer.status_code == 422, url
            assert re.search(message, answer.json()["detail"]), answer.json()
        good = await client.post("/api/v1/reports", data={"url": GOOD}, headers=headers)
        assert good.status_code == 200
    assert _sent(web) == [TO_LOOPBACK, GOOD]


def _rss(urls: list[str]) -> bytes:
    items = "".join(f"<item><title>r</title><link>{u}</link></item>" for u in urls)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


# -- the deadline ---------------------------------------------------------------------------

DRIP_FOR = 20.0  # the servers below give up after this long: a fetch that waits is a failure
BOUND = 10.0  # generous: the deadline in these tests is 1 s


@contextmanager
def _listener(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 running ``handle`` for each connection in a thread."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()

    def _serve(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            handle(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(5)


def _drip(head_too: bool) -> Callable[[socket.socket], None]:
    body = b"x" * 100_000
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)

    def handle(conn: socket.socket) -> None:
        conn.recv(65536)
        if not head_too:
            conn.sendall(head)
        ends = time.monotonic() + DRIP_FOR
        for byte in (head if head_too else b"") + body:
            if time.monotonic() > ends:
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.1)

    return handle


def _silent(conn: socket.socket) -> None:
    """Accept, read the SOCKS5 greeting, never answer."""
    conn.settimeout(DRIP_FOR)
    ends = time.monotonic() + DRIP_FOR
    while time.monotonic() < ends:
        try:
            if not conn.recv(1024):
                return
        except TimeoutError:
            return


@pytest.mark.parametrize("head_too", [True, False], ids=["head", "body"])
def test_slow_drip_report_ends_at_the_deadline(
    make_settings: Callable[..., Settings], clock: FixedClock, head_too: bool
) -> None:
    settings = make_settings(
        network__allow_private_networks="true",
        network__timeout="5",
        harvest__fetch_deadline="1",
    )
    with _listener(_drip(head_too)) as port, Archive.open(settings, clock=clock) as archive:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"not fetched within 1s \(harvest\.fetch_deadline\)"):
            archive.add(f"http://127.0.0.1:{port}/report.txt")
        assert time.monotonic() - started < BOUND


def test_slow_drip_feed_ends_at_the_deadline(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = make_settings(
        network__allow_private_networks="true",
        network__timeout="5",
        harvest__fetch_deadline="1",
    )
    with _listener(_drip(True)) as port, Archive.open(settings, clock=clock) as archive:
        feed = add_feed(archive, f"http://127.0.0.1:{port}/feed.xml", actor="test")
        started = time.monotonic()
        result = poll_feed(archive, feed)
        assert time.monotonic() - started < BOUND
    assert result.error is not None and "harvest.fetch_deadline" in result.error


def test_silent_socks_proxy_ends_at_the_deadline(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    with _listener(_silent) as port:
        settings = make_settings(
            network__proxy=f"socks5://127.0.0.1:{port}",
            network__timeout="5",
            harvest__fetch_deadline="1",
        )
        with Archive.open(settings, clock=clock) as archive:
            started = time.monotonic()
            with pytest.raises(FetchError, match=r"not fetched within 1s"):
                archive.add("http://reports.example/may.md")
            assert time.monotonic() - started < BOUND


async def test_fetch_report_called_from_a_running_event_loop(web: SimulatedWeb) -> None:
    """The synchronous API also works in a thread that runs an event loop."""
    network = NetworkSettings(proxy=web.proxy_url, timeout=5)
    fetched = fetch_report(GOOD, network, max_bytes=1 << 20, deadline=10)
    assert fetched.data == REPORT and fetched.final_url == GOOD
    with pytest.raises(FetchError, match=r"refusing localhost"):
        fetch_report("http://localhost/r.md", network, max_bytes=1 << 20, deadline=10)
    assert _sent(web) == [GOOD]
