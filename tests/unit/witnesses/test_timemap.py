"""Reading archives' answers and choosing the copy (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from archiver.witnesses.timemap import (
    Memento,
    merge,
    nearest,
    parse_cdx,
    parse_http_date,
    parse_timemap,
    parse_wayback_timestamp,
    raw_url,
)

URL = "https://rus.azattyq.org/a/1.html"
# As the Wayback Machine answers (and an aggregator, with copies of several archives).
TIMEMAP = f"""<{URL}>; rel="original",
<https://web.archive.org/web/timemap/link/{URL}>; rel="self"; type="application/link-format"; from="Thu, 01 Sep 2022 08:00:00 GMT",
<https://web.archive.org/web/{URL}>; rel="timegate",
<https://web.archive.org/web/20220901080000/{URL}>; rel="first memento"; datetime="Thu, 01 Sep 2022 08:00:00 GMT",
<https://web.archive.org/web/20221005140211/{URL}>; rel="memento"; datetime="Wed, 05 Oct 2022 14:02:11 GMT",
<https://archive.ph/20221006/{URL}?a=1,b=2>; rel="memento"; datetime="Thu, 06 Oct 2022 00:00:00 GMT",
<https://web.archive.org/web/20230301000000/{URL}>; rel="last memento"; datetime="Wed, 01 Mar 2023 00:00:00 GMT"
"""


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def test_timemap_lists_every_memento_with_its_archive() -> None:
    mementos = parse_timemap(TIMEMAP, "tm")
    assert [m.datetime for m in mementos] == [
        at(2022, 9, 1, 8), at(2022, 10, 5, 14, 2, 11), at(2022, 10, 6), at(2023, 3, 1)
    ]  # fmt: skip
    assert [m.archive for m in mementos] == [
        "web.archive.org", "web.archive.org", "archive.ph", "web.archive.org"
    ]  # fmt: skip
    # A URL with commas in it stays whole.
    assert mementos[2].url == f"https://archive.ph/20221006/{URL}?a=1,b=2"
    assert all(m.listed_by == "tm" for m in mementos)


def test_timemap_garbage_and_links_without_dates_are_left_out() -> None:
    assert parse_timemap("") == []
    assert parse_timemap("<html>Service Unavailable</html>") == []
    assert parse_timemap('<https://a.org/web/1/x>; rel="memento"') == []
    assert (
        parse_timemap('<javascript:x>; rel="memento"; datetime="Wed, 05 Oct 2022 14:02:11 GMT"')
        == []
    )


def test_nearest_to_the_report_date_first_earlier_on_a_tie() -> None:
    mementos = parse_timemap(TIMEMAP)
    target = at(2022, 10, 31, 12)
    assert nearest(mementos, target)[0].datetime == at(2022, 10, 6)
    before, after = (
        Memento(at(2022, 10, 30), "https://a.org/1"),
        Memento(at(2022, 11, 1), "https://a.org/2"),
    )
    assert nearest([after, before], at(2022, 10, 31))[0] is before
    assert nearest([], target) == []


def test_raw_url_asks_for_the_original_bytes() -> None:
    assert raw_url(f"https://web.archive.org/web/20221005140211/{URL}") == (
        f"https://web.archive.org/web/20221005140211id_/{URL}"
    )
    assert raw_url(f"https://web.archive.org/web/20221005140211mp_/{URL}") == (
        f"https://web.archive.org/web/20221005140211id_/{URL}"
    )
    # Only the archive's own timestamp, never one inside the original URL.
    assert raw_url("https://arquivo.pt/wayback/20200101000000/https://x.pt/20190101000000/a") == (
        "https://arquivo.pt/wayback/20200101000000id_/https://x.pt/20190101000000/a"
    )
    assert raw_url("https://archive.ph/abcde") == "https://archive.ph/abcde"


def test_merge_keeps_one_of_each_copy() -> None:
    a = Memento(at(2022, 1, 1), f"https://web.archive.org/web/20220101000000/{URL}", "aggregator")
    b = Memento(at(2022, 1, 1), f"https://web.archive.org/web/20220101000000mp_/{URL}", "wayback")
    assert merge([[a], [b]]) == [a]


def test_cdx_of_the_wayback_machine_and_of_pywb() -> None:
    wayback = (
        '[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],'
        f'["az,rus)/a/1.html","20221005140211","{URL}","text/html","200","X","1"],'
        f'["az,rus)/a/1.html","20221101000000","{URL}","text/html","404","Y","1"]]'
    )
    [only] = parse_cdx(wayback, "https://web.archive.org/cdx/search/cdx")
    assert only.url == f"https://web.archive.org/web/20221005140211/{URL}"
    assert only.datetime == at(2022, 10, 5, 14, 2, 11)
    pywb = f'{{"timestamp": "20221005140211", "url": "{URL}", "status": "200"}}\n'
    assert [m.url for m in parse_cdx(pywb, "https://web.archive.org/cdx/search/cdx")] == [only.url]
    assert parse_cdx("not json", "https://web.archive.org/cdx/search/cdx") == []


def test_dates() -> None:
    assert parse_http_date("Wed, 05 Oct 2022 14:02:11 GMT") == at(2022, 10, 5, 14, 2, 11)
    assert parse_http_date("yesterday") is None
    assert parse_wayback_timestamp("20221005140211") == at(2022, 10, 5, 14, 2, 11)
    assert parse_wayback_timestamp("2022") == at(2022, 1, 1)
    assert parse_wayback_timestamp("20221345000000") is None
