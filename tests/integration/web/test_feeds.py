"""Report feeds against a real local HTTP server: RSS, Atom, a listing page; each
report harvested once, failures remembered or retried."""

from __future__ import annotations

from collections.abc import Callable

from archiver.app import Archive
from archiver.config import Settings
from archiver.harvest.feeds import add_feed, parse_feed, poll_feed
from tests.conftest import REPORT_001, FixedClock
from tests.support.httpserver import Response, serve

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Monitoring</title>
<item><title>October</title><link>/reports/october.txt</link></item>
<item><title>November</title><link>http://example.org/n.html</link>
<enclosure url="/reports/november.md" type="text/markdown" length="10"/></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Cases</title><entry><title>Case 1</title><link href="https://a.kz/case1"/></entry>
<entry><title>Case 2</title><link rel="alternate" href="https://a.kz/case2"/>
<link rel="enclosure" type="application/pdf" href="https://a.kz/case2.pdf"/></entry></feed>"""
LISTING = b"""<html><head><title>Monthly reports</title></head><body>
<a href="/">Home</a><a href="/about">About</a>
<a href="/files/2026-10.pdf">October 2026</a><a href="/files/2026-10.pdf">again</a>
<a href="https://elsewhere.org/x.pdf">other site</a><a href="/reports/november.md">November</a>
</body></html>"""
NOVEMBER = b"Detained [^1].\n\n[^1]: https://rus.azattyq.org/a/777.html\n"


def test_parse_rss_atom_and_listing() -> None:
    rss = parse_feed(RSS, "http://r.kz/feed.xml")
    assert rss.kind == "rss" and rss.title == "Monitoring"
    assert [i.url for i in rss.items] == [
        "http://r.kz/reports/october.txt",
        "http://r.kz/reports/november.md",
    ]
    atom = parse_feed(ATOM, "https://a.kz/feed")
    assert atom.kind == "atom"
    assert [i.url for i in atom.items] == ["https://a.kz/case1", "https://a.kz/case2.pdf"]
    listing = parse_feed(LISTING, "http://r.kz/reports/", "text/html")
    assert listing.kind == "listing"
    assert [i.url for i in listing.items] == [
        "http://r.kz/files/2026-10.pdf",
        "http://r.kz/reports/november.md",
    ]
    patterned = parse_feed(LISTING, "http://r.kz/reports/", "text/html", link_pattern=r"/about$")
    assert [i.url for i in patterned.items] == ["http://r.kz/about"]


def test_feed_polled_each_report_once(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    routes = {
        "/feed.xml": Response(200, RSS, {"Content-Type": "application/rss+xml"}),
        "/reports/october.txt": Response(
            200, REPORT_001.read_bytes(), {"Content-Type": "text/plain; charset=utf-8"}
        ),
        "/reports/november.md": Response(500, b"try later"),
    }
    settings = make_settings(network__allow_private_networks="true")
    with serve(routes) as server, Archive.open(settings, clock=clock) as archive:
        feed = add_feed(archive, server.url("/feed.xml"), actor="test")
        first = poll_feed(archive, feed)
        assert first.error is None and first.kind == "rss" and first.listed == 2
        assert len(first.new_reports) == 1 and first.new_sources == 118
        assert len(first.failed) == 1 and "HTTP 500" in first.failed[0]

        # The failed link is tried again; the harvested one is not fetched again.
        routes["/reports/november.md"] = Response(200, NOVEMBER, {"Content-Type": "text/markdown"})
        server.requests.clear()
        second = poll_feed(archive, feed)
        assert server.requests == ["/feed.xml", "/reports/november.md"]
        assert len(second.new_reports) == 1 and second.new_sources == 1
        server.requests.clear()
        third = poll_feed(archive, feed)
        assert server.requests == ["/feed.xml"] and third.new_reports == []
        assert archive.status()["summary"]["reports"] == 2


def test_unreachable_feed_is_recorded(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    settings = make_settings(network__allow_private_networks="true")
    with serve({}) as server, Archive.open(settings, clock=clock) as archive:
        feed = add_feed(archive, server.url("/missing.xml"), actor="test")
        result = poll_feed(archive, feed)
        assert result.error is not None and "HTTP 404" in result.error
        from archiver.harvest.feeds import list_feeds

        assert list_feeds(archive)[0].last_error == result.error
