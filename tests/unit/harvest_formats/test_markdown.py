"""Markdown reports: footnotes, inline, reference-style and auto links, bare URLs."""

from __future__ import annotations

from archiver.harvest import Format, HarvestResult, harvest


def _md(text: str, base_url: str | None = None) -> HarvestResult:
    result = harvest(text.encode(), filename="report.md", base_url=base_url)
    assert result.format is Format.MARKDOWN
    return result


def _triples(result: HarvestResult) -> list[tuple[str | None, str, str]]:
    return [(c.marker, c.url, c.context) for c in result.citations]


def test_footnotes() -> None:
    text = (
        "# October digest\n\n"
        "October 3, Almaty. The activist was detained[^1]. Police refused comment[^2].\n\n"
        "[^1]: https://a.kz/1\n"
        "[^2]: Azattyq, [report](https://b.kz/2), 4 October.\n"
    )
    result = _md(text)
    assert result.title == "October digest"
    context = "October 3, Almaty. The activist was detained. Police refused comment."
    assert _triples(result) == [
        ("1", "https://a.kz/1", context),
        ("2", "https://b.kz/2", context),
    ]


def test_footnote_labels_are_markers_as_written() -> None:
    text = "Claim[^note].\n\nOther[^12].\n\n[^12]: https://b.kz\n[^note]: https://a.kz\n"
    assert [(c.marker, c.url) for c in _md(text).citations] == [
        ("note", "https://a.kz"),
        ("12", "https://b.kz"),
    ]


def test_multi_line_footnote_definition() -> None:
    text = (
        "Claim[^1].\n\n"
        "[^1]: Statement of the Prosecutor General's Office,\n"
        "    published on 5 October: https://a.kz/statement\n"
    )
    assert [(c.marker, c.url) for c in _md(text).citations] == [("1", "https://a.kz/statement")]


def test_inline_links_and_images() -> None:
    text = (
        'The [video](https://youtu.be/x "YouTube") shows the arrest; '
        "![photo](https://a.kz/p.jpg) was taken by a witness.\n"
    )
    result = _md(text)
    context = "The video shows the arrest; photo was taken by a witness."
    assert _triples(result) == [
        (None, "https://youtu.be/x", context),
        (None, "https://a.kz/p.jpg", context),
    ]


def test_link_with_parentheses_and_angle_brackets() -> None:
    text = "See [wiki](https://en.wikipedia.org/wiki/Foo_(bar)) and [x](<https://a.kz/a b>).\n"
    assert [c.url for c in _md(text).citations] == [
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "https://a.kz/a b",
    ]


def test_reference_style_links() -> None:
    text = (
        "The [first report][az] and the [Second One][] and [az] again.\n\n"
        '[az]: https://rus.azattyq.org/a/1.html "Azattyq"\n'
        "[second one]: <https://b.kz/2>\n"
        "[unused]: https://c.kz/unused\n"
    )
    result = _md(text)
    assert [(c.marker, c.url) for c in result.citations] == [
        (None, "https://rus.azattyq.org/a/1.html"),
        (None, "https://b.kz/2"),
        (None, "https://rus.azattyq.org/a/1.html"),
        (None, "https://c.kz/unused"),  # a definition nothing uses is still a cited URL
    ]
    assert result.citations[0].context == "The first report and the Second One and az again."
    assert result.citations[3].context == ""


def test_numeric_reference_definitions_are_notes() -> None:
    text = "Claim one [1]. Claim two [2].\n\n[1]: https://a.kz/1\n[2]: https://b.kz/2\n"
    result = _md(text)
    assert [(c.marker, c.url) for c in result.citations] == [
        ("1", "https://a.kz/1"),
        ("2", "https://b.kz/2"),
    ]
    assert "[" not in result.citations[0].context


def test_autolinks_and_bare_urls() -> None:
    text = "Source: <https://a.kz/auto>. Also https://b.kz/bare here.\n"
    assert [c.url for c in _md(text).citations] == ["https://a.kz/auto", "https://b.kz/bare"]


def test_link_text_that_is_a_url_is_not_counted_twice() -> None:
    text = "See [https://a.kz/x](https://a.kz/x).\n"
    assert [c.url for c in _md(text).citations] == ["https://a.kz/x"]


def test_relative_links() -> None:
    text = "See [the annex](annex.pdf) and [home](/).\n"
    skipped = _md(text).skipped
    assert {(s.url, s.reason) for s in skipped} == {("annex.pdf", "relative"), ("/", "relative")}
    based = _md(text, base_url="https://kibhr.kz/reports/oct.md")
    assert [c.url for c in based.citations] == [
        "https://kibhr.kz/reports/annex.pdf",
        "https://kibhr.kz/",
    ]


def test_headings_lists_and_quotes_are_separate_paragraphs() -> None:
    text = (
        "## Almaty\n"
        "- first item with [a](https://a.kz)\n"
        "- second item with [b](https://b.kz)\n\n"
        "> quoted claim [c](https://c.kz)\n"
    )
    assert [c.context for c in _md(text).citations] == [
        "first item with a",
        "second item with b",
        "quoted claim c",
    ]


def test_escaped_brackets_and_emphasis() -> None:
    text = "**Bold** claim \\[not a link\\](x) with [a](https://a.kz).\n"
    assert _md(text).citations[0].context == "Bold claim [not a link](x) with a."


def test_hand_written_text_notes_in_markdown() -> None:
    text = (
        "# Report\n\nClaim one[1].\n\nClaim two[2].\n\n[1] https://a.kz/1\n\n[2] https://b.kz/2\n"
    )
    result = _md(text)
    assert _triples(result) == [
        ("1", "https://a.kz/1", "Claim one."),
        ("2", "https://b.kz/2", "Claim two."),
    ]


def test_mailto_link_is_skipped() -> None:
    result = _md("Write [to us](mailto:info@kibhr.kz).\n")
    assert result.citations == ()
    assert [(s.url, s.reason) for s in result.skipped] == [
        ("mailto:info@kibhr.kz", "scheme:mailto")
    ]
