"""Acceptance: the real reports in shared/reports, and report 001 converted to every format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archiver.harvest import Format, HarvestResult, harvest
from tests.unit.harvest_formats.convert import (
    REPORT_001,
    REPORTS,
    Report,
    load_001,
    to_docx,
    to_html,
    to_markdown,
    to_pdf,
)

_MARKER_IN_TEXT_RE = re.compile(r"\[\d+\]")
# An independent reading of the notes list: "[12]https://..." lines at the end of the file.
_NOTE_RE = re.compile(r"^\[(\d+)\](https?://\S+)\s*$", re.M)

# marker -> words of the citing paragraph that must appear in its context
KEY_PHRASES = {
    "1": ["Baimagambetov", "12 years"],
    "2": ["Opushiyev", "behind closed doors"],
    "13": ["Prosecutor General", "October 5, Astana"],
    "35": [],
    "57": ["Nurgazin"],
    "92": [],
    "126": ["Narymbaev"],
    "127": ["Darkhan Valiev", "waste-paper basket"],
}


def _expected_notes() -> list[tuple[str, str]]:
    return _NOTE_RE.findall(REPORT_001.read_text(encoding="utf-8"))


def _paragraph_of(marker: str) -> str:
    """The body line of report 001 that holds "[marker]" (found without the harvester)."""
    text = REPORT_001.read_text(encoding="utf-8")
    for line in text.splitlines():
        if f"[{marker}]" in line and not line.startswith(f"[{marker}]"):
            return line
    raise AssertionError(marker)


def _check_001(result: HarvestResult) -> None:
    expected = _expected_notes()
    assert len(expected) == 127
    pairs = [(c.marker, c.url) for c in result.citations]
    assert pairs == expected
    assert [c.position for c in result.citations] == list(range(127))
    for citation in result.citations:
        assert citation.context, citation.marker
        assert not _MARKER_IN_TEXT_RE.search(citation.context), citation.context
        for phrase in KEY_PHRASES.get(citation.marker or "", []):
            assert phrase in citation.context, (citation.marker, citation.context)


def test_report_001_gives_127_numbered_citations() -> None:
    result = harvest(REPORT_001.read_bytes(), filename=REPORT_001.name)
    assert result.format is Format.TEXT
    assert result.encoding == "utf-8"
    _check_001(result)
    assert result.title is not None and "MONITORING OF POLITICAL PERSECUTION" in result.title


def test_report_001_contexts_come_from_the_citing_paragraph() -> None:
    result = harvest(REPORT_001.read_bytes())
    for citation in result.citations:
        paragraph = " ".join(
            _MARKER_IN_TEXT_RE.sub("", _paragraph_of(citation.marker or "")).split()
        )
        # Paragraphs in this report are short: the context is the whole paragraph.
        assert len(paragraph) <= 600
        assert citation.context == paragraph


def test_report_001_paragraph_with_four_markers() -> None:
    result = harvest(REPORT_001.read_bytes())
    by_marker = {c.marker: c for c in result.citations}
    contexts = {by_marker[m].context for m in ("92", "93", "94", "95")}
    assert len(contexts) == 1  # one paragraph cites all four


@pytest.mark.parametrize(
    "path", sorted(p for p in REPORTS.glob("*.txt") if p != REPORT_001), ids=lambda p: p.name
)
def test_reports_without_citations(path: Path) -> None:
    result = harvest(path.read_bytes(), filename=path.name)
    assert result.citations == ()
    assert result.format is Format.TEXT


# --- conversions of report 001 ---------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Report:
    return load_001()


def test_converter_reads_the_report(report: Report) -> None:
    assert report.notes == _expected_notes()
    markers = [m for p in report.paragraphs for m in _MARKER_IN_TEXT_RE.findall(p)]
    assert len(markers) == 127


def test_markdown_conversion(report: Report) -> None:
    result = harvest(to_markdown(report).encode("utf-8"), filename="report.md")
    assert result.format is Format.MARKDOWN
    _check_001(result)
    assert result.title == report.title


def test_markdown_conversion_detected_without_extension(report: Report) -> None:
    result = harvest(to_markdown(report).encode("utf-8"))
    assert result.format is Format.MARKDOWN
    _check_001(result)


@pytest.mark.parametrize("style", ["sup", "word"])
def test_html_conversion(report: Report, style: str) -> None:
    result = harvest(to_html(report, style).encode("utf-8"), filename="report.html")
    assert result.format is Format.HTML
    _check_001(result)
    assert result.title == report.title
    # nav and footer links are not citations
    assert all("example.org" not in c.url for c in result.citations)


def test_docx_conversion(report: Report) -> None:
    result = harvest(to_docx(report), filename="report.docx")
    assert result.format is Format.DOCX
    _check_001(result)
    assert result.title == report.title


def test_pdf_conversion(report: Report) -> None:
    data = to_pdf(report)
    result = harvest(data, filename="report.pdf")
    assert result.format is Format.PDF
    _check_001(result)
    assert int(result.extra["pages"]) > 5


def test_pdf_conversion_wraps_long_urls(report: Report) -> None:
    """The converted PDF really breaks long URLs in its text layer (so the test above
    proves they are joined again)."""
    import io

    import pypdf

    text = "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(to_pdf(report))).pages
    )
    longest = max(report.notes, key=lambda n: len(n[1]))[1]
    assert longest not in text
    assert longest[:30] in text


def test_all_formats_agree_on_contexts(report: Report) -> None:
    reference = {c.marker: c.context for c in harvest(REPORT_001.read_bytes()).citations}
    for data, name in (
        (to_markdown(report).encode(), "r.md"),
        (to_html(report).encode(), "r.html"),
        (to_html(report, "word").encode(), "r.htm"),
        (to_docx(report), "r.docx"),
        (to_pdf(report), "r.pdf"),
    ):
        contexts = {c.marker: c.context for c in harvest(data, filename=name).citations}
        assert contexts == reference, name


# --- a Russian report in a legacy code page, and a fetched web page ---------------------

RUSSIAN_REPORT = """МОНИТОРИНГ ПОЛИТИЧЕСКИХ ПРЕСЛЕДОВАНИЙ В РЕСПУБЛИКЕ КАЗАХСТАН, ОКТЯБРЬ 2022

3 октября, Кызылорда, Баймагамбетов Муратбай Алиевич, ст. 272 ч. 1 УК РК, инвалид 3 группы, заявил, что с 2018 года подвергается преследованиям, 5-6 раз подвергался административному аресту, ему угрожали 12 годами лишения свободы, если он не подпишет процессуальное соглашение[1].

3 октября, Тараз, в ювенальном суде начался процесс по делу 17-летнего Андрея Опушиева, убитого во время январских протестов. Заседание прошло в закрытом режиме[2].

5 октября, Алматы, редакция "Орды" получила посылку со свиной головой; в пасти была порванная фотография главного редактора Гульнары Бажкеновой[3].

31 октября, Алматы, Дархан Валиев, осуждённый по ст. 272 ч. 2 УК РК, сообщает, что уголовное дело о пытках "выбросили в корзину"[4].

[1] https://www.facebook.com/toregozhina/posts/pfbid02YfW7S97kQqMrwBbB71nbmHaqRep

[2] Азаттык, 3 октября: https://rus.azattyq.org/a/32064219.html

[3] https://kaztag.kz/ru/news/svinuyu-golovu и https://orda.kz/video/12345

[4] https://www.facebook.com/photo?fbid=1058958634846417&set=a.1044294766312804
"""
RUSSIAN_EXPECTED = [
    ("1", "https://www.facebook.com/toregozhina/posts/pfbid02YfW7S97kQqMrwBbB71nbmHaqRep"),
    ("2", "https://rus.azattyq.org/a/32064219.html"),
    ("3", "https://kaztag.kz/ru/news/svinuyu-golovu"),
    ("3", "https://orda.kz/video/12345"),
    ("4", "https://www.facebook.com/photo?fbid=1058958634846417&set=a.1044294766312804"),
]


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "utf-8"])
def test_russian_numbered_notes_report_in_legacy_encodings(encoding: str) -> None:
    result = harvest(RUSSIAN_REPORT.encode(encoding), filename="otchet.txt")
    assert result.encoding == encoding
    assert [(c.marker, c.url) for c in result.citations] == RUSSIAN_EXPECTED
    contexts = {c.marker: c.context for c in result.citations}
    assert "Баймагамбетов Муратбай Алиевич" in contexts["1"]
    assert "Опушиева" in contexts["2"]
    assert "свиной головой" in contexts["3"]
    assert contexts["4"].startswith("31 октября, Алматы, Дархан Валиев")
    assert all(not _MARKER_IN_TEXT_RE.search(c) for c in contexts.values())
    assert result.title == RUSSIAN_REPORT.splitlines()[0]


REPORT_PAGE = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="windows-1251">
<title>Мониторинг за октябрь – КМБПЧ</title>
<link rel="stylesheet" href="/style.css"></head>
<body>
<header><a href="/">КМБПЧ</a> <a href="/ru/reports/">Отчёты</a></header>
<nav class="menu"><a href="/ru/about/">О нас</a></nav>
<article>
<h1>Мониторинг политических преследований, октябрь 2022</h1>
<p>3 октября, Кызылорда. Баймагамбетов М. А. заявил о преследованиях
<sup><a href="#fn1" id="ref1">1</a></sup>.</p>
<p>5 октября, Алматы. Редакция <a href="/ru/news/orda/">«Орды»</a> получила угрозы
<sup><a href="#fn2" id="ref2">2</a></sup>; видео: <a href="https://youtu.be/8ONJAsmfG3w">YouTube</a>.</p>
<p>Полный текст: <a href="../files/october.pdf">PDF</a>. Пишите: <a href="mailto:info@kibhr.kz">почта</a>.</p>
<ol class="footnotes">
<li id="fn1"><a href="https://rus.azattyq.org/a/32064219.html">Азаттык</a> <a href="#ref1">&#8617;</a></li>
<li id="fn2">Kaztag: https://kaztag.kz/ru/news/svinuyu-golovu <a href="#ref2">&#8617;</a></li>
</ol>
</article>
<div class="share"><a href="https://www.facebook.com/sharer/sharer.php?u=x">Facebook</a></div>
<footer><a href="/ru/contacts/">Контакты</a> <a href="https://twitter.com/kibhr">Twitter</a></footer>
</body></html>
"""


def test_fetched_report_page_with_base_url() -> None:
    result = harvest(
        REPORT_PAGE.encode("cp1251"),
        content_type="text/html",
        base_url="https://bureau.kz/ru/monitoring/2022-10/",
    )
    assert result.format is Format.HTML
    assert result.encoding == "cp1251"
    assert result.title == "Мониторинг за октябрь – КМБПЧ"
    assert [(c.marker, c.url) for c in result.citations] == [
        ("1", "https://rus.azattyq.org/a/32064219.html"),
        (None, "https://bureau.kz/ru/news/orda/"),
        ("2", "https://kaztag.kz/ru/news/svinuyu-golovu"),
        (None, "https://youtu.be/8ONJAsmfG3w"),
        (None, "https://bureau.kz/ru/monitoring/files/october.pdf"),
    ]
    first = result.citations[0].context
    assert first.startswith("3 октября, Кызылорда. Баймагамбетов") and "1" not in first
    skipped = {(s.url, s.reason) for s in result.skipped}
    assert ("mailto:info@kibhr.kz", "scheme:mailto") in skipped
    assert ("https://bureau.kz/ru/about/", "outside-content") in skipped
    assert ("https://twitter.com/kibhr", "outside-content") in skipped
    assert all("bureau.kz/ru/contacts" not in c.url for c in result.citations)


def test_fetched_report_page_without_base_url_skips_relative_links() -> None:
    result = harvest(REPORT_PAGE.encode("cp1251"), content_type="text/html")
    assert [c.url for c in result.citations] == [
        "https://rus.azattyq.org/a/32064219.html",
        "https://kaztag.kz/ru/news/svinuyu-golovu",
        "https://youtu.be/8ONJAsmfG3w",
    ]
    relative = sorted(s.url for s in result.skipped if s.reason == "relative")
    assert relative == ["../files/october.pdf", "/ru/news/orda/"]
