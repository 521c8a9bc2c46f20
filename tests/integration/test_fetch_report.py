"""Adding a report by URL, against a real local HTTP server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from archiver.app import Archive
from archiver.config import Settings
from archiver.errors import FetchError, ReportTooLargeError
from tests.conftest import REPORT_001, FixedClock
from tests.support.httpserver import Response, serve

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Monitoring, May</title></head>
<body><nav><a href="/">Home</a></nav><article>
<p>On 3 May in Almaty a journalist was detained<sup><a href="#fn1">1</a></sup>.</p>
<p>The court hearing was postponed, the lawyer said (<a href="/a/2.html">our earlier note</a>).</p>
<ol class="footnotes"><li id="fn1"><a href="https://rus.azattyq.org/a/1.html">Azattyq</a></li></ol>
</article></body></html>"""


def _archive(make_settings: Callable[..., Settings], clock: FixedClock, **extra: str) -> Archive:
    return Archive.open(make_settings(**extra), clock=clock)


def test_report_page_fetched_with_redirect_and_relative_links(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    routes = {
        "/reports/may": Response(301, b"", {"Location": "/reports/may.html"}),
        "/reports/may.html": Response(200, PAGE, {"Content-Type": "text/html; charset=utf-8"}),
    }
    with (
        serve(routes) as server,
        _archive(make_settings, clock, network__allow_private_networks="true") as archive,
    ):
        outcome = archive.add(server.url("/reports/may"))
        assert outcome.title == "Monitoring, May"
        status = archive.status()
    urls = {c["url"] for c in status["reports"][0]["citations"]}
    assert "https://rus.azattyq.org/a/1.html" in urls
    # the relative link resolved against the final (redirected) URL
    assert server.url("/a/2.html") in urls
    assert status["reports"][0]["origin"] == server.url("/reports/may")


def test_private_address_refused_by_default(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    routes = {"/r.txt": Response(200, REPORT_001.read_bytes(), {"Content-Type": "text/plain"})}
    with serve(routes) as server, _archive(make_settings, clock) as archive:
        with pytest.raises(FetchError, match=r"loopback address.*allow_private_networks"):
            archive.add(server.url("/r.txt"))
        assert server.requests == []


@pytest.mark.parametrize(
    ("routes", "error", "message"),
    [
        ({}, FetchError, "HTTP 404"),
        ({"/r": Response(302, b"", {"Location": "/r"})}, FetchError, "more than 10 redirects"),
        (
            {"/r": Response(200, b"x" * 5000, {"Content-Type": "text/plain"})},
            ReportTooLargeError,
            "over the 4096 byte limit",
        ),
    ],
)
def test_bad_report_urls(
    make_settings: Callable[..., Settings],
    clock: FixedClock,
    routes: dict[str, Response],
    error: type[Exception],
    message: str,
) -> None:
    with (
        serve(routes) as server,
        _archive(
            make_settings,
            clock,
            network__allow_private_networks="true",
            harvest__max_report_bytes="4096",
        ) as archive,
    ):
        with pytest.raises(error, match=message):
            archive.add(server.url("/r"))
        assert archive.status()["reports"] == []


def test_unreachable_host_is_a_fetch_error(
    make_settings: Callable[..., Settings], clock: FixedClock
) -> None:
    with (
        _archive(
            make_settings, clock, network__allow_private_networks="true", network__timeout="2"
        ) as archive,
        pytest.raises(FetchError, match="ConnectError"),
    ):
        archive.add("http://127.0.0.1:9/report.html")
