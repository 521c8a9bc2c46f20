"""HTML reports and report web pages."""

from __future__ import annotations

from archiver.harvest import Format, HarvestResult, harvest


def _page(
    body: str, head: str = "<title>Digest</title>", base_url: str | None = None
) -> HarvestResult:
    html = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"
    )
    result = harvest(html.encode(), base_url=base_url)
    assert result.format is Format.HTML
    return result


def _triples(result: HarvestResult) -> list[tuple[str | None, str, str]]:
    return [(c.marker, c.url, c.context) for c in result.citations]


def test_links_and_context() -> None:
    result = _page(
        "<p>October 3, Almaty. The <a href='https://a.kz/1'>video</a> shows the arrest.</p>"
        "<p>Second <b>paragraph</b> <a href='https://b.kz/2'>link</a>.</p>"
    )
    assert result.title == "Digest"
    assert _triples(result) == [
        (None, "https://a.kz/1", "October 3, Almaty. The video shows the arrest."),
        (None, "https://b.kz/2", "Second paragraph link."),
    ]


def test_sup_footnotes_with_ordered_list() -> None:
    result = _page(
        "<p>Detained in Almaty<sup><a href='#fn1' id='r1'>1</a></sup>. "
        "Fined in Astana<sup>[<a href='#fn2'>2</a>]</sup>.</p>"
        "<ol class='footnotes'>"
        "<li id='fn1'><a href='https://a.kz/1'>Azattyq</a> and https://a.kz/1b "
        "<a href='#r1'>↩</a></li>"
        "<li id='fn2'><p>Statement: <a href='https://b.kz/2'>https://b.kz/2</a></p></li>"
        "</ol>"
    )
    context = "Detained in Almaty. Fined in Astana."
    assert _triples(result) == [
        ("1", "https://a.kz/1", context),
        ("1", "https://a.kz/1b", context),
        ("2", "https://b.kz/2", context),
    ]


def test_word_html_export_footnotes() -> None:
    result = _page(
        "<div class=WordSection1><p class=MsoNormal>October 5, Astana, the court ruled"
        '<a style="mso-footnote-id:ftn1" href="#_ftn1" name="_ftnref1" title="">'
        "<span class=MsoFootnoteReference><span style='mso-special-character:footnote'>"
        "[1]</span></span></a>.</p></div>"
        "<div style='mso-element:footnote-list'><br clear=all><hr align=left width='33%'>"
        "<div style='mso-element:footnote' id=ftn1><p class=MsoFootnoteText>"
        '<a style="mso-footnote-id:ftn1" href="#_ftnref1" name="_ftn1" title="">'
        "<span class=MsoFootnoteReference>[1]</span></a> Azattyq: "
        "<a href='https://rus.azattyq.org/a/1.html'>https://rus.azattyq.org/a/1.html</a>"
        "</p></div></div>"
    )
    assert _triples(result) == [
        ("1", "https://rus.azattyq.org/a/1.html", "October 5, Astana, the court ruled.")
    ]


def test_references_list_links_reached_by_marker_are_not_counted_again() -> None:
    result = _page(
        "<p>Claim<sup><a href='#n1'>1</a></sup>.</p>"
        "<div id='refs'><p id='n1'>1. <a href='https://a.kz/1'>https://a.kz/1</a></p>"
        "<p>Further reading: <a href='https://b.kz/more'>more</a></p></div>"
    )
    assert [(c.marker, c.url) for c in result.citations] == [
        ("1", "https://a.kz/1"),
        (None, "https://b.kz/more"),  # not reached by a marker: an ordinary link
    ]


def test_same_note_referenced_twice() -> None:
    result = _page(
        "<p>First<sup><a href='#fn1'>1</a></sup>.</p><p>Again<sup><a href='#fn1'>1</a></sup>.</p>"
        "<ol><li id='fn1'><a href='https://a.kz/1'>src</a></li></ol>"
    )
    assert _triples(result) == [("1", "https://a.kz/1", "First.")]


def test_navigation_header_footer_scripts_are_ignored() -> None:
    result = _page(
        "<header><a href='https://kibhr.kz/'>Home</a></header>"
        "<nav><a href='https://kibhr.kz/about'>About</a></nav>"
        "<div role='navigation'><a href='https://kibhr.kz/menu'>Menu</a></div>"
        "<ul class='breadcrumb'><li><a href='https://kibhr.kz/reports'>Reports</a></li></ul>"
        "<p>Claim <a href='https://a.kz/1'>source</a>.</p>"
        "<script>var u = 'https://tracker.example/x';</script><style>a{}</style>"
        "<div class='share'><a href='https://www.facebook.com/sharer/sharer.php?u=x'>f</a></div>"
        "<p><a href='https://twitter.com/intent/tweet?url=x'>Tweet this</a></p>"
        "<footer><a href='https://kibhr.kz/contact'>Contact</a></footer>"
    )
    assert [c.url for c in result.citations] == ["https://a.kz/1"]
    navigation = {s.url for s in result.skipped if s.reason == "navigation"}
    assert "https://kibhr.kz/about" in navigation
    assert "https://twitter.com/intent/tweet?url=x" in navigation


def test_only_the_main_content_is_read() -> None:
    result = _page(
        "<div class='sidebar'><a href='https://kibhr.kz/other-report'>Other report</a></div>"
        "<main><p>Claim <a href='https://a.kz/1'>source</a>.</p></main>"
        "<div class='widget'><a href='https://kibhr.kz/tag/x'>tag</a></div>"
    )
    assert [c.url for c in result.citations] == ["https://a.kz/1"]
    outside = {s.url for s in result.skipped if s.reason == "outside-content"}
    assert outside == {"https://kibhr.kz/other-report", "https://kibhr.kz/tag/x"}


def test_fetched_page_with_base_url_and_relative_links() -> None:
    body = (
        "<article><h1>October digest</h1>"
        "<p>See <a href='/a/1.html'>one</a>, <a href='2.html'>two</a>, "
        "<a href='//cdn.kz/v.mp4'>video</a>, <a href='#top'>top</a>, "
        "<a href='mailto:x@kibhr.kz'>mail</a>.</p></article>"
    )
    result = _page(body, head="", base_url="https://kibhr.kz/reports/oct/index.html")
    assert result.title == "October digest"
    assert [c.url for c in result.citations] == [
        "https://kibhr.kz/a/1.html",
        "https://kibhr.kz/reports/oct/2.html",
        "https://cdn.kz/v.mp4",
    ]
    assert [(s.url, s.reason) for s in result.skipped] == [("mailto:x@kibhr.kz", "scheme:mailto")]


def test_base_element_wins_over_base_url() -> None:
    result = _page(
        "<p><a href='x.html'>x</a></p>",
        head="<base href='https://mirror.kz/docs/'>",
        base_url="https://kibhr.kz/page.html",
    )
    assert [c.url for c in result.citations] == ["https://mirror.kz/docs/x.html"]


def test_relative_links_without_base_are_skipped() -> None:
    result = _page("<p><a href='/a/1.html'>one</a> and <a href='https://b.kz'>b</a></p>")
    assert [c.url for c in result.citations] == ["https://b.kz"]
    assert [(s.url, s.reason) for s in result.skipped] == [("/a/1.html", "relative")]


def test_bare_urls_in_text_nodes() -> None:
    result = _page(
        "<p>Video: https://youtu.be/abc, and <a href='https://a.kz/x'>https://a.kz/x</a>.</p>"
    )
    assert [c.url for c in result.citations] == ["https://youtu.be/abc", "https://a.kz/x"]


def test_title_falls_back_to_h1() -> None:
    assert _page("<h1>Case of  Bekbolat</h1><p>x</p>", head="").title == "Case of Bekbolat"


def test_br_pairs_split_paragraphs() -> None:
    result = _page(
        "<div>First claim <a href='https://a.kz'>a</a>.<br><br>"
        "Second claim <a href='https://b.kz'>b</a>.<br>still second.</div>"
    )
    assert [c.context for c in result.citations] == [
        "First claim a.",
        "Second claim b. still second.",
    ]


def test_hand_written_notes_in_html_paragraphs() -> None:
    result = _page(
        "<p>Claim one[1].</p><p>Claim two[2].</p>"
        "<p>[1] https://a.kz/1</p><p>[2] <a href='https://b.kz/2'>Azattyq</a></p>"
    )
    assert _triples(result) == [
        ("1", "https://a.kz/1", "Claim one."),
        ("2", "https://b.kz/2", "Claim two."),
    ]


def test_deeply_nested_page() -> None:
    depth = 3000
    html = "<div>" * depth + "<p>Deep <a href='https://a.kz'>link</a></p>" + "</div>" * depth
    html += "<p>After <a href='https://b.kz'>b</a></p>"
    result = harvest(html.encode(), filename="deep.html")
    # libxml2 drops what lies deeper than its limit: the links are still cited, and said.
    assert sorted(c.url for c in result.citations) == ["https://a.kz", "https://b.kz"]
    assert any("nested deeper" in w for w in result.warnings)


def test_notes_outside_main_are_cited_not_skipped() -> None:
    result = _page(
        "<main><p>Claim<sup><a href='#fn1'>1</a></sup>.</p></main>"
        "<aside><ol><li id='fn1'><a href='https://a.kz/1'>src</a></li></ol></aside>"
    )
    assert [(c.marker, c.url) for c in result.citations] == [("1", "https://a.kz/1")]
    assert result.skipped == ()
