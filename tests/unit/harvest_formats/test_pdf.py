"""PDF reports: text layer rebuilt with superscripts, wrapped URLs, link annotations."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from archiver.errors import UnsupportedFormatError
from archiver.harvest import Format, HarvestResult, harvest
from tests.unit.harvest_formats.convert import Report, to_pdf

Draw = Callable[[object], None]


def _pdf(*pages: Draw) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    for draw in pages:
        draw(c)
        c.showPage()
    c.save()
    return buffer.getvalue()


def _lines(c: object, lines: list[str], top: float = 760, size: float = 11) -> None:
    """Draw text lines 14 pt apart; an empty string leaves a paragraph gap."""
    y = top
    for line in lines:
        if line:
            c.setFont("Helvetica", size)  # type: ignore[attr-defined]
            c.drawString(72, y, line)  # type: ignore[attr-defined]
            y -= 14
        else:
            y -= 10


def _read(data: bytes) -> HarvestResult:
    result = harvest(data, filename="report.pdf")
    assert result.format is Format.PDF
    return result


def test_wrapped_url_without_annotation_is_joined() -> None:
    def page(c: object) -> None:
        _lines(
            c,
            [
                "October 4, Warsaw. The musician appealed to the OSCE, see",
                "https://rus.azattyq.org/a/320",
                "68052.html for the video.",
            ],
        )

    result = _read(_pdf(page))
    assert [c.url for c in result.citations] == ["https://rus.azattyq.org/a/32068052.html"]
    assert result.citations[0].context.startswith("October 4, Warsaw.")


def test_prose_after_a_url_at_line_end_is_not_joined() -> None:
    def page(c: object) -> None:
        _lines(c, ["The ruling is at https://kaztag.kz/ru/news/1", "and the appeal follows."])

    assert [c.url for c in _read(_pdf(page)).citations] == ["https://kaztag.kz/ru/news/1"]


def test_raised_superscript_markers_and_word_style_footnotes() -> None:
    """Markers drawn as separate raised, smaller text (as Word and LibreOffice do), and a
    footnote at the foot of the page that starts with a raised number."""

    def page(c: object) -> None:
        c.setFont("Helvetica", 11)  # type: ignore[attr-defined]
        c.drawString(72, 760, "October 3, Kyzylorda. He was threatened with prison.")  # type: ignore[attr-defined]
        c.setFont("Helvetica", 7)  # type: ignore[attr-defined]
        c.drawString(336, 765, "12")  # type: ignore[attr-defined]
        c.setFont("Helvetica", 11)  # type: ignore[attr-defined]
        c.drawString(72, 746, "The court sat on 5 October.")  # type: ignore[attr-defined]
        c.setFont("Helvetica", 6)  # type: ignore[attr-defined]
        c.drawString(72, 84, "12")  # type: ignore[attr-defined]
        c.setFont("Helvetica", 9)  # type: ignore[attr-defined]
        c.drawString(80, 80, "Azattyq: https://rus.azattyq.org/a/32064219.html")  # type: ignore[attr-defined]

    result = _read(_pdf(page))
    assert [(c.marker, c.url) for c in result.citations] == [
        ("12", "https://rus.azattyq.org/a/32064219.html")
    ]
    assert "12" not in result.citations[0].context
    assert result.citations[0].context.startswith("October 3, Kyzylorda.")


def test_annotation_over_plain_words_is_cited_in_its_paragraph() -> None:
    def page(c: object) -> None:
        _lines(
            c,
            [
                "October 7, Almaty. The Azattyq report describes the arrest.",
                "",
                "Another paragraph.",
            ],
        )
        c.linkURL("https://rus.azattyq.org/a/7.html", (150, 755, 260, 772))  # type: ignore[attr-defined]

    result = _read(_pdf(page))
    assert [(c.marker, c.url, c.context) for c in result.citations] == [
        (
            None,
            "https://rus.azattyq.org/a/7.html",
            "October 7, Almaty. The Azattyq report describes the arrest.",
        )
    ]


def test_annotation_beats_truncated_text() -> None:
    uri = "https://www.facebook.com/permalink.php?story_fbid=pfbid02yA7aUyJcEt&id=100076779432757"

    def page(c: object) -> None:
        _lines(c, ["Claim[1].", "", "[1] https://www.facebook.com/permalink.php?story…"])
        c.linkURL(uri, (90, 730, 400, 746))  # type: ignore[attr-defined]

    result = _read(_pdf(page))
    assert [(c.marker, c.url) for c in result.citations] == [("1", uri)]


def test_annotation_in_a_note_belongs_to_the_note() -> None:
    def page(c: object) -> None:
        _lines(c, ["Claim[1].", "", "[1] Radio Azattyq, 4 October"])
        c.linkURL("https://rus.azattyq.org/a/1.html", (90, 730, 300, 746))  # type: ignore[attr-defined]

    result = _read(_pdf(page))
    assert [(c.marker, c.url, c.context) for c in result.citations] == [
        ("1", "https://rus.azattyq.org/a/1.html", "Claim.")
    ]


def test_paragraph_running_over_a_page_break() -> None:
    def first(c: object) -> None:
        _lines(
            c, ["October 3, Almaty. The activist, who had been", "summoned twice before,"], top=90
        )

    def second(c: object) -> None:
        _lines(c, ["was detained at the akimat[1].", "", "[1] https://a.kz/1"])
        c.drawString(300, 30, "2")  # type: ignore[attr-defined]  # page number

    result = _read(_pdf(first, second))
    assert result.citations[0].context == (
        "October 3, Almaty. The activist, who had been summoned twice before, was detained at"
        " the akimat."
    )


def test_reportlab_paragraphs_with_links() -> None:
    report = Report(
        "TITLE",
        ["October 1, Almaty. First claim[1].", "October 2, Astana. Second claim[2]."],
        [("1", "https://a.kz/" + "x" * 120), ("2", "https://b.kz/2")],
    )
    result = _read(to_pdf(report, frame_width=200))
    assert [(c.marker, c.url, c.context) for c in result.citations] == [
        ("1", "https://a.kz/" + "x" * 120, "October 1, Almaty. First claim."),
        ("2", "https://b.kz/2", "October 2, Astana. Second claim."),
    ]


def _encrypted(user_password: str) -> bytes:
    import pypdf

    source = to_pdf(Report("T", ["Claim[1]."], [("1", "https://a.kz/1")]))
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(source)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_with_empty_user_password_is_read() -> None:
    assert [c.url for c in _read(_encrypted("")).citations] == ["https://a.kz/1"]


def test_password_protected_pdf() -> None:
    with pytest.raises(UnsupportedFormatError, match="password-protected") as info:
        harvest(_encrypted("secret"), filename="locked.pdf")
    assert str(info.value).startswith("locked.pdf: ")


def test_title_from_metadata() -> None:
    assert _read(to_pdf(Report("OCTOBER DIGEST", ["x[1]"], [("1", "https://a.kz")]))).title == (
        "OCTOBER DIGEST"
    )


def test_wrapped_annotated_url_followed_by_punctuation_and_marker() -> None:
    uri = (
        "https://kaztag.kz/ru/news/akim-akmolinskoy-oblasti-podal-isk-na-kommentatora-v-sotssetyakh"
    )

    def page(c: object) -> None:
        _lines(
            c,
            [
                "October 4, Kokshetau. The akim sued a commenter, see",
                uri[:45],
                uri[45:] + "[4]. Next sentence.",
                "",
                "[4] Kaztag",
            ],
        )
        c.linkURL(uri, (72, 740, 400, 757))  # type: ignore[attr-defined]
        c.linkURL(uri, (72, 726, 400, 743))  # type: ignore[attr-defined]

    result = _read(_pdf(page))
    assert [(c.marker, c.url) for c in result.citations] == [(None, uri)]
    assert result.citations[0].context.endswith("see " + uri + ". Next sentence.")
