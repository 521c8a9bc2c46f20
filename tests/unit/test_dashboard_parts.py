"""The dashboard's pure parts: the SVG charts draw the numbers they are given, and
filters read and write their query strings and domains as documented."""

from __future__ import annotations

import re

import lxml.html
import pytest

from archiver.store.status import STATES
from archiver.web._select import Filters, host_of, in_domain, normalize_domain
from archiver.web.charts import Bar, bar_chart, column_chart, state_bars


def _bars(svg: str) -> list[tuple[str, int, str, float]]:
    tree = lxml.html.fragment_fromstring(svg)
    return [
        (
            g.get("data-key"),
            int(g.get("data-count")),
            g.xpath("./title")[0].text_content(),
            sum(float(r.get("width")) for r in g.xpath("./rect")),
        )
        for g in tree.xpath(".//g[@data-key]")
    ]


def test_bar_chart_draws_every_count_in_proportion() -> None:
    counts = {"live": 40, "dead": 10, "pending": 0}
    svg = str(bar_chart("by-state", "Footnotes by state", state_bars(counts, STATES), "footnotes"))
    bars = _bars(svg)
    assert [b[0] for b in bars] == list(STATES)
    drawn = {key: count for key, count, _, _ in bars}
    assert drawn == {state: counts.get(state, 0) for state in STATES}
    widths = {key: width for key, _, _, width in bars}
    assert widths["live"] == pytest.approx(4 * widths["dead"]) and widths["pending"] == 0
    assert ("dead", 10, "dead: 10 footnotes", widths["dead"]) in bars
    # The numbers are also written, and described for screen readers.
    assert ">10</text>" in svg and "dead 10" in re.search(r"<desc[^>]*>(.*?)</desc>", svg)[1]
    assert 'role="img"' in svg and "<script" not in svg


def test_labels_are_escaped() -> None:
    svg = str(bar_chart("c", "<b>", [Bar('"><script>', "<i>", 1, "#000")], "x"))
    assert "<script>" not in svg and "<i>" not in svg and "<b>" not in svg


def test_column_chart_stacks_each_day() -> None:
    days = [("2026-01-01", {}), ("2026-01-02", {"dead": 3, "live": 1}), ("2026-01-03", {"live": 2})]
    svg = str(column_chart("changes", "State changes", days, "state changes"))
    bars = _bars(svg)
    assert [(key, count) for key, count, _, _ in bars] == [
        ("2026-01-01", 0),
        ("2026-01-02", 4),
        ("2026-01-03", 2),
    ]
    assert bars[1][2] == "2026-01-02: 4 state changes (dead 3, live 1)"
    heights = [
        sum(float(r.get("height")) for r in g.xpath("./rect"))
        for g in lxml.html.fragment_fromstring(svg).xpath(".//g[@data-key]")
    ]
    assert heights[0] == 0 and heights[1] == pytest.approx(2 * heights[2])
    assert "no state changes" in str(column_chart("c", "t", [("d", {})], "state changes"))


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.facebook.com/x/posts/1", "facebook.com"),
        ("https://rus.azattyq.org/a/1.html?x=1", "rus.azattyq.org"),
        ("http://Example.KZ:8080/path", "example.kz"),
        ("https://user@www.site.kz/a", "site.kz"),
        ("http://[::1]:80/a", "::1"),
        ("https://t.me#x", "t.me"),
        ("not a url", ""),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_domains_match_their_subdomains_only() -> None:
    assert in_domain("rus.azattyq.org", "azattyq.org")
    assert in_domain("azattyq.org", "azattyq.org")
    assert not in_domain("notazattyq.org", "azattyq.org")
    assert normalize_domain(" WWW.Kaztag.kz ") == "kaztag.kz"
    assert normalize_domain("https://www.kaztag.kz/ru/news") == "kaztag.kz"


def test_filters_from_a_form_and_back() -> None:
    filters = Filters.of(
        state="", platform="youtube", domain="www.youtube.com", suspected=True, q="  Суд "
    )
    assert filters == Filters(platform="youtube", domain="youtube.com", suspected=True, q="Суд")
    assert filters.active and not Filters.of().active
    assert filters.words == ["суд"]
    assert filters.query(page=2) == (
        "platform=youtube&domain=youtube.com&suspected=1&q=%D0%A1%D1%83%D0%B4&page=2"
    )
    assert len(Filters.of(q="x" * 5000).q or "") == 200
